"""Clustering: the k-means estimator, its k-means++ seeding and its Lloyd iterations."""
