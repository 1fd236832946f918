"""The codec: quantised codes and the code-file format."""
