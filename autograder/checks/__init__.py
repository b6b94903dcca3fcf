"""One module per family of layers; each registers its exercises on import."""
