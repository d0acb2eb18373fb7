"""Use cases the CLI (and later the API) call: enrolment, verification, search by photo."""
