"""The front ends served over HTTP: the API and the console."""
