"""Model backends, one file each; chosen by the `type` key of their settings."""
