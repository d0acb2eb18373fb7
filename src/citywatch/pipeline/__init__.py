"""The camera pipeline: frames in, tracks matched, sightings out; the worker threads around it."""
