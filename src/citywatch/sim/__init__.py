"""`citywatch sim`: the simulated city (docs/scale/scale.md)."""
