"""Clustering: the k-means estimator, its k-means++ seeding and its Lloyd iterations."""

from .kmeans import KMeans

__all__ = ["KMeans"]
