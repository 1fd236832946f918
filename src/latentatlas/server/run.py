"""Running the app with uvicorn so that SIGTERM or Ctrl-C stops it at once, even while a query runs."""

from __future__ import annotations

import errno
import socket
from types import FrameType

import uvicorn
from fastapi import FastAPI

from ..errors import LatentAtlasError

__all__ = ["listen", "run_server"]

_GRACE_S = 1.0  # what uvicorn waits for requests still open after they were interrupted


class _Server(uvicorn.Server):
    """uvicorn's server, interrupting the app's running requests when told to exit.

    uvicorn's graceful shutdown waits for requests in flight; those are
    stopped first (they answer 503), so waiting ends within moments.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.config.app.state.queries.stop()
        super().handle_exit(sig, frame)


def listen(host: str = "127.0.0.1", port: int = 8000) -> socket.socket:
    """A socket bound to ``host:port``, or one :class:`LatentAtlasError` line saying why not (a busy port, a bad address)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError) as error:
        raise LatentAtlasError(f"cannot listen on {host}:{port}: unknown address ({error})",
                               parameter="host") from None
    except OverflowError:
        raise LatentAtlasError(f"cannot listen on port {port}: a port is 0 to 65535", parameter="port") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        reason = {errno.EADDRINUSE: "another program is listening there; stop it or choose another port",
                  errno.EACCES: "not allowed (ports below 1024 need privileges); choose a port above 1024",
                  errno.EADDRNOTAVAIL: "this machine has no such address"}.get(error.errno, error.strerror)
        raise LatentAtlasError(f"cannot listen on {host}:{port}: {reason}", parameter="port") from None
    sock.set_inheritable(True)
    return sock


def run_server(app: FastAPI, sock: socket.socket) -> None:
    """Serve ``app`` (from :func:`~latentatlas.server.create_app`) on ``sock`` (from :func:`listen`) until SIGINT or SIGTERM."""
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=_GRACE_S)
    _Server(config).run(sockets=[sock])
