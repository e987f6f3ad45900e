"""The pull worker: claims due sources, pulls them, records outcomes."""
