"""Citywatch across many processes and machines: the engines run locally (`servers`), the
processes of a city and their wiring."""
