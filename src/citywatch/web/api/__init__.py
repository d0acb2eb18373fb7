"""The HTTP API (FastAPI): routes parse, authorise by a declared dependency, call one service."""
