"""Evaluations, one module per evaluate command: space, codec, interpolation, restoration; and image quality."""
