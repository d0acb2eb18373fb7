"""citywatch: city-scale video surveillance with face recognition, accountable by design."""

__version__ = "0.1.0"
