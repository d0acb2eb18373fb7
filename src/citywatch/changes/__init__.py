"""Changes waiting for a second person (the two-person rule): proposed by the features,
decided here, applied through them."""
