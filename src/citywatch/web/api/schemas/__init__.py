"""The API's request and response models, by area; `common` holds what every area shares."""
