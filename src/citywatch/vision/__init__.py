"""Vision: face detection, quality gate, alignment and embedding; one backend file per model."""
