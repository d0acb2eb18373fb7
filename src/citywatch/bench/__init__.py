"""Measurement: accuracy and speed of the pipeline, reported the way the field does."""
