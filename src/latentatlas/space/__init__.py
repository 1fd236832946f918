"""The space: projections of codes to 2 or 3 dimensions, and scores of how a representation separates classes."""

from .projection import Projection

__all__ = ["Projection"]
