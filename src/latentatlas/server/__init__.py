"""The web page: a FastAPI app over one atlas (search, pictures, cluster runs, interpolation)."""

from .app import ServerOptions, create_app
from .run import listen, run_server

__all__ = ["ServerOptions", "create_app", "listen", "run_server"]
