"""Baselines we measure against: codec baselines (PCA, JPEG, WebP) and restoration baselines (classic filters)."""
