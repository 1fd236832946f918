"""The command line: ``latentatlas <command> ...``; each command calls one function of the core."""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer._click import exceptions as click_errors  # Typer vendors Click; its exceptions have no public alias
from typer.core import TyperGroup

from .. import __version__
from . import (
    cluster, codec, core, datasets, demo, evaluate, explore, features, forecast, interpolate, project, restore, search, serve,
    space,
)

__all__ = ["app", "main"]


class OneLineErrors(TyperGroup):
    """The top-level group: a mistyped command or option is one ``Error:`` line on stderr, exit status 2.

    Click's own message (with its "Did you mean ...?" suggestion) is kept;
    Typer's boxed usage text is not printed.
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click_errors.NoArgsIsHelpError as error:
            error.show()
            sys.exit(error.exit_code)
        except click_errors.UsageError as error:
            command = error.ctx.command_path if error.ctx is not None else "latentatlas"
            typer.echo(f"Error: {error.format_message()} (see {command} --help)", err=True)
            sys.exit(error.exit_code)
        except click_errors.ClickException as error:
            typer.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except typer.Abort:
            typer.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


app = typer.Typer(
    name="latentatlas",
    cls=OneLineErrors,
    help="Learn a compact latent space for an image collection; search, decode and query it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"latentatlas {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                           help="Print the version and exit.")) -> None:
    """Learn a compact latent space for an image collection; search, decode and query it."""


core.register(app)
search.register(app)
forecast.register(app)
app.add_typer(datasets.app, name="datasets")
app.add_typer(demo.app, name="demo")
app.add_typer(features.app, name="features")
app.add_typer(evaluate.app, name="evaluate")
cluster.register(app)
project.register(app)
explore.register(app)
space.register(app)
codec.register(app)
interpolate.register(app)
restore.register(app)
serve.register(app)


def main() -> None:
    """Entry point of the ``latentatlas`` console script."""
    app()
