"""``python -m bench scale``: the recordings system at scale, in virtual time, running our code (``sim``)."""
