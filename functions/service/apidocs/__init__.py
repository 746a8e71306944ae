"""The API's own documentation, served by the deployed API when ``apiDocs`` is on (off by default)."""
