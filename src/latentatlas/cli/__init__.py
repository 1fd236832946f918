"""The command line: ``latentatlas <command> ...``; each command calls one function of the core."""

from __future__ import annotations

import typer

from . import cluster, codec, core, datasets, demo, evaluate, features, interpolate, project, restore, search, serve, space

__all__ = ["app", "main"]

app = typer.Typer(
    name="latentatlas",
    help="Learn a compact latent space for an image collection; search, decode and query it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
core.register(app)
search.register(app)
app.add_typer(datasets.app, name="datasets")
app.add_typer(demo.app, name="demo")
app.add_typer(features.app, name="features")
app.add_typer(evaluate.app, name="evaluate")
cluster.register(app)
project.register(app)
space.register(app)
codec.register(app)
interpolate.register(app)
restore.register(app)
serve.register(app)


def main() -> None:
    """Entry point of the ``latentatlas`` console script."""
    app()
