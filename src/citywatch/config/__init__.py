"""Configuration: pydantic models, one file per concern; `load()` lives in `load.py` only."""
