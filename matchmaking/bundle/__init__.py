"""The public bundle and schedule formats: models, validation, canonical JSON, conversions."""
