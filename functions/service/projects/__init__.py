"""Project management and usage through Agora's Console API (owners only)."""
