"""Built-in and generated sample sets: scikit-learn and scikit-image data, generated shapes and a radar year."""
