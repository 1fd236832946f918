"""The atlas directory and every table in it: images, embeddings, settings, cluster runs, ORB features."""

from .database import ImageRow, QueryResult, Store, row_ids

__all__ = ["ImageRow", "QueryResult", "Store", "row_ids"]
