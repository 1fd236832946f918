"""Running the app with uvicorn so that SIGTERM or Ctrl-C stops it at once, even while a query runs."""

from __future__ import annotations

from types import FrameType

import uvicorn
from fastapi import FastAPI

__all__ = ["run_server"]

_GRACE_S = 1.0  # what uvicorn waits for requests still open after they were interrupted


class _Server(uvicorn.Server):
    """uvicorn's server, interrupting the app's running requests when told to exit.

    uvicorn's graceful shutdown waits for requests in flight; those are
    stopped first (they answer 503), so waiting ends within moments.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.config.app.state.queries.stop()
        super().handle_exit(sig, frame)


def run_server(app: FastAPI, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``app`` (from :func:`~latentatlas.server.create_app`) until SIGINT or SIGTERM."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=_GRACE_S)
    _Server(config).run()
