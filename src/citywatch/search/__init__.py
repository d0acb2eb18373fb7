"""Case search: the stored sightings of one face, inside a case."""
