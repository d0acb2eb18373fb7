"""Export packages for requests: signed zips of clips, sightings and alerts."""
