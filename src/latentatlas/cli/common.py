"""What every command shares: error handling, JSON output, progress bars, option types."""

from __future__ import annotations

import functools
import re
import shutil
import sys
import typing
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, Optional, Sequence

import typer
import typer.models
from typer.core import TyperCommand

from ..errors import LatentAtlasError, UsageError
from ..jsonable import dumps
from ..progress import ProgressBar

__all__ = [
    "command", "emit_json", "progress_bar", "console", "parse_numbers", "parse_size", "parse_grid",
    "AtlasOption", "JsonOption", "QuietOption", "ThreadsOption", "WhereOption", "MetricOption", "ExactOption",
    "BatchSizeOption", "TimeBudgetOption", "TileRowOption", "TileColOption", "tile_of", "VectorOption", "HostOption",
    "PortOption",
    "set_threads", "on_atlas", "writable_atlas",
    "report_failures",
    "finish_report", "show_result", "print_table", "printable",
]

AtlasOption = Annotated[Path, typer.Option("--atlas", "-a", help="The atlas directory.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
ThreadsOption = Annotated[int | None, typer.Option("--threads", help="CPU threads for PyTorch (default: all cores).")]
WhereOption = Annotated[Optional[str], typer.Option("--where", help="SQL predicate on images: only the rows it matches.")]
MetricOption = Annotated[str, typer.Option("--metric", help="l2, sqeuclidean, cosine or ip (negative inner product).")]
ExactOption = Annotated[bool, typer.Option("--exact", help="Scan every code even when the atlas has an index.")]
BatchSizeOption = Annotated[int, typer.Option("--batch-size", help="Images (or tiles, codes) processed at once.")]
TimeBudgetOption = Annotated[Optional[float], typer.Option("--time-budget", help="Seconds of training.")]
TileRowOption = Annotated[Optional[int], typer.Option("--tile-row", help="With --time in an atlas of tiles: the tile's row.")]
TileColOption = Annotated[Optional[int], typer.Option("--tile-col", help="With --time in an atlas of tiles: the tile's column.")]
VectorOption = Annotated[Optional[str], typer.Option("--vector", help="A code: comma-separated numbers.")]
HostOption = Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")]
PortOption = Annotated[int, typer.Option("--port", help="Port to listen on.")]


def printable(text: str) -> str:
    """``text`` with control and format characters written as escapes (``\\x1b``), so a file name cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _printable_lines(text: str) -> str:
    return "\n".join(printable(line) for line in text.split("\n"))


RICH_HELP_COLUMNS = 100  # narrower terminals get Click's plain --help: one line per option where it fits


class FittedHelp(TyperCommand):
    """A command whose ``--help`` is Typer's boxed table where there is room and Click's plain list where not.

    At 80 columns the boxed table leaves the help text a third of the width
    and wraps every option over several lines; Click's list puts a long
    option's help on the next line instead.
    """

    def format_help(self, ctx: Any, formatter: Any) -> None:
        if shutil.get_terminal_size().columns >= RICH_HELP_COLUMNS:
            return super().format_help(ctx, formatter)
        mode, self.rich_markup_mode = self.rich_markup_mode, None
        try:
            return super().format_help(ctx, formatter)
        finally:
            self.rich_markup_mode = mode


def console():
    """A Rich console on stdout for tables and summaries: strings print as written (no markup), escapes shown;
    off a terminal, sentences are not wrapped at 80 columns."""
    out = _console_class()(highlight=False, markup=False, emoji=False)
    out.soft_wrap = not out.is_terminal
    return out


@functools.cache
def _console_class() -> type:
    from rich.console import Console  # Rich loads when something is printed: the CLI starts faster

    class PlainConsole(Console):
        def print(self, *objects: Any, **options: Any) -> None:
            super().print(*(_printable_lines(o) if isinstance(o, str) else o for o in objects), **options)

    return PlainConsole


def print_table(columns: Sequence[str], rows: Sequence[Sequence[str]], shorten: str = "uri") -> None:
    """``rows`` as a table that fits the console: empty columns left out, ``shorten`` cut from the left.

    A uri keeps its end (the file name) and loses its start to ``…`` when
    the table would be wider than the console (80 columns included); the
    other columns, ids and distances, stay whole. ``--json`` has it all.
    """
    from rich.table import Table

    kept = [c for c, name in enumerate(columns) if c == 0 or any(row[c] for row in rows)]
    names, cells = [columns[c] for c in kept], [[printable(str(row[c])) for c in kept] for row in rows]
    out = console()
    if shorten in names:
        at = names.index(shorten)
        others = sum(max(len(names[c]), *(len(row[c]) for row in cells)) for c in range(len(names)) if c != at)
        room = max(out.width - others - 3 * len(names) - 1, len(shorten), 12)
        for row in cells:
            row[at] = row[at] if len(row[at]) <= room else "…" + row[at][-(room - 1):]
    table = Table(*names)
    for row in cells:
        table.add_row(*row)
    out.print(table)


def command(app: typer.Typer, name: str | None = None, **options: Any) -> Callable:
    """Register ``fn`` as a command of ``app`` whose user errors become one line on stderr.

    A :class:`LatentAtlasError` prints ``Error: <message>`` and exits with its
    status (2 for usage errors, 1 for failures); other exceptions are bugs
    and keep their traceback.
    """

    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except LatentAtlasError as error:
                typer.echo(f"Error: {printable(in_flags(error, option_flags(fn)))}", err=True)  # flags read only now
                raise typer.Exit(error.exit_code) from None
            except KeyboardInterrupt:
                typer.echo("Interrupted.", err=True)
                raise typer.Exit(130) from None

        app.command(name, cls=FittedHelp, **options)(run)
        return fn

    return register


def option_flags(fn: Callable) -> dict[str, str]:
    """Each option of a command function by its Python name, as its first flag (``exclude_within`` -> ``--exclude-within``)."""
    flags = {}
    for name, hint in typing.get_type_hints(fn, include_extras=True).items():
        for info in getattr(hint, "__metadata__", ()):
            if isinstance(info, typer.models.OptionInfo):
                first = [info.default] if isinstance(info.default, str) else []  # typer.Option("--out", "-o")
                declared = [d for d in [*first, *(info.param_decls or ())] if d.startswith("-")]
                flags[name] = declared[0] if declared else "--" + name.replace("_", "-")  # the first, as help shows
    return flags


def in_flags(error: LatentAtlasError, flags: dict[str, str]) -> str:
    """The error's message with the Python parameters it names written as the command's ``flags``."""
    message = str(error)
    names = getattr(error, "parameter", None) or ()
    for name in (names,) if isinstance(names, str) else names:
        if name in flags:
            message = re.sub(rf"(?<![\w./-]){re.escape(name)}(?![\w./-])", flags[name], message, count=1)
    return message


def emit_json(data: Any) -> None:
    """Write one JSON document on stdout."""
    sys.stdout.write(dumps(data) + "\n")
    sys.stdout.flush()


def progress_bar(quiet: bool = False) -> ProgressBar:
    """Rich progress bars on stderr fed by the core's progress callback; none with ``quiet``."""
    return ProgressBar(enabled=not quiet)


def parse_numbers(text: str, what: str) -> list[float]:
    """``"1,2,3"``, ``"1 2 3"`` or ``"[1, 2, 3]"`` to floats; :class:`UsageError` otherwise."""
    cleaned = text.strip().strip("[]").replace(",", " ").split()
    try:
        return [float(x) for x in cleaned]
    except ValueError:
        raise UsageError(f"{what} must be numbers separated by commas, got {text!r}") from None


def parse_size(text: str | None) -> int | tuple[int, int] | None:
    """``"64"`` or ``"48x64"`` (height x width) to a size."""
    if text is None:
        return None
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise UsageError(f"--size must be N or HxW, got {text!r}")


def parse_grid(text: str | None) -> tuple[int, int] | None:
    """``"64x112"`` (height x width) to a grid size."""
    if text is None:
        return None
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise UsageError(f"--grid must be HxW (e.g. 64x112), got {text!r}")
    return int(parts[0]), int(parts[1])


def tile_of(tile_row: int | None, tile_col: int | None) -> tuple[int, int] | None:
    """``(tile_row, tile_col)`` from ``--tile-row`` and ``--tile-col`` (both or neither)."""
    if (tile_row is None) != (tile_col is None):
        raise UsageError("give both --tile-row and --tile-col", parameter=("tile_row", "tile_col"))
    return None if tile_row is None else (tile_row, tile_col)


def set_threads(threads: int | None) -> None:
    """Limit PyTorch's CPU threads when asked."""
    if threads is not None:
        if threads < 1:
            raise UsageError(f"--threads must be >= 1, got {threads}")
        import torch

        torch.set_num_threads(threads)


def on_atlas(atlas: Path, call: Callable[[Any, Any], Any], threads: int | None = None, quiet: bool = False) -> Any:
    """Open ``atlas`` read-only with a progress bar and return ``call(opened_atlas, progress)``."""
    from ..atlas import Atlas

    set_threads(threads)
    with Atlas.open(atlas, read_only=True) as opened, progress_bar(quiet) as progress:
        return call(opened, progress)


@contextmanager
def writable_atlas(path: Path, create: bool = True) -> Iterator[Any]:
    """Open ``path`` for writing; a failed command leaves no new, empty atlas behind.

    Without ``create`` a missing atlas is refused (:class:`AtlasNotFoundError`)
    rather than made. When the directory did not exist before and the body raises while the
    atlas still holds nothing (no model, no rows: only the empty database),
    the directory is removed, so a refused ``fit`` or ``build`` does not
    leave a directory that a later run would have to ``--overwrite``.
    """
    from ..atlas import Atlas
    from ..store.database import DB_FILE

    if not create:
        Atlas.open(path, read_only=True).close()
    created = not Path(path).exists()
    opened = Atlas.open(path)
    try:
        yield opened
    except BaseException:
        empty = created and opened.store.count("images") == 0
        opened.close()
        if empty and {p.name for p in Path(path).iterdir()} <= {DB_FILE, f"{DB_FILE}.wal"}:
            shutil.rmtree(path)
        raise
    opened.close()


def report_failures(failures: Sequence[Any]) -> None:
    """Tell stderr which items were skipped and why, one line each."""
    if failures:
        typer.echo(f"Skipped {len(failures)} unreadable item(s):", err=True)
        for failure in failures:
            typer.echo(f"  {printable(str(failure))}", err=True)


def show_result(result: dict[str, Any], json_output: bool, show: Callable[[dict[str, Any]], None],
                failures: Sequence[Any] = ()) -> None:
    """Print ``result`` as JSON or with ``show``, then list ``failures`` on stderr."""
    if json_output:
        emit_json(result)
    else:
        show(result)
    report_failures(failures)


def finish_report(report: Any, json_output: bool, text: str) -> None:
    """Print ``report.to_dict()`` as JSON or as ``text`` filled from it, then list its failures on stderr."""
    show_result(report.to_dict(), json_output, lambda result: console().print(text.format(**result)), report.failures)
