"""Retention: holds, the purge and its receipts, footage segments and clips."""
