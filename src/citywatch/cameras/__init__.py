"""Cameras as records: the configuration file's cameras and those added, changed and removed
through the API and the command line (`service`), what a record is and how its source is
shown (`records`)."""
