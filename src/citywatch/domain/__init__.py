"""Pure types and errors shared by every stage. Imports nothing else from citywatch."""
