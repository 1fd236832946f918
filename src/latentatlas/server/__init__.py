"""The web page: a FastAPI app over one atlas (search, pictures, cluster runs, interpolation)."""

from .app import create_app

__all__ = ["create_app"]
