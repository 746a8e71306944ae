"""Adapters for what we do not own (AWS), behind small interfaces so tests and the local stack swap them."""
