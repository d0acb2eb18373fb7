"""Command line: parse → call a service → print. Nothing else lives here."""
