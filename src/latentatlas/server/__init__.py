"""The web page: a FastAPI app over one atlas (search, pictures, cluster runs, interpolation)."""

from .app import create_app
from .run import run_server

__all__ = ["create_app", "run_server"]
