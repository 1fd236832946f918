"""The ``serve`` command: the web page of one atlas."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import LatentAtlasError
from .common import AtlasOption, HostOption, PortOption, ThreadsOption, command, set_threads


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""
    command(app, "serve")(serve)


def serve(
    atlas: AtlasOption,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    query_timeout: Annotated[float, typer.Option(
        help="Seconds a request may run before its query is interrupted (answered with 408).")] = 10.0,
    max_upload: Annotated[float, typer.Option(
        help="Largest request body in MB (10^6 bytes; 413 beyond it); an uploaded .npz may not unpack "
             "to more.")] = 20.0,
    query_memory: Annotated[float, typer.Option(
        help="MB of memory the clients' where predicates may use together (beyond it they fail; none "
             "spills to disk).")] = 64.0,
    threads: ThreadsOption = None,
) -> None:
    """Serve a web page of the atlas: search by id, time or image, cluster runs, interpolation."""
    try:
        from ..server import ServerOptions, create_app, listen, run_server
    except ImportError as error:
        raise LatentAtlasError(f"the web page needs FastAPI and uvicorn ({error.name} is missing): "
                               "pip install 'latentatlas[web]'") from None
    options = ServerOptions.in_megabytes(query_timeout=query_timeout, max_upload=max_upload, query_memory=query_memory)
    set_threads(threads)
    app = create_app(atlas, options)
    sock = listen(host, port)
    if app.state.decoding_off:
        typer.echo(f"Warning: {app.state.decoding_off}", err=True)
    typer.echo(f"Serving {atlas} at http://{host}:{port}/ (Ctrl+C stops)")
    run_server(app, sock)
