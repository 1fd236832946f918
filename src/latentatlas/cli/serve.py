"""The ``serve`` command: the web page of one atlas."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import LatentAtlasError
from .common import AtlasOption, ThreadsOption, command, set_threads


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    command(app, "serve")(serve)


def serve(
    atlas: AtlasOption,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    threads: ThreadsOption = None,
) -> None:
    """Serve a web page of the atlas: search by id, time or image, cluster runs, interpolation."""
    try:
        import uvicorn

        from ..server import create_app
    except ImportError as error:
        raise LatentAtlasError(f"the web page needs FastAPI and uvicorn ({error.name} is missing): "
                               "pip install 'latentatlas[web]'") from None
    set_threads(threads)
    app = create_app(atlas)
    typer.echo(f"Serving {atlas} at http://{host}:{port}/ (Ctrl+C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
