"""Parameter checks declared once, named by their Python names, and written as flags by the command line."""

from __future__ import annotations

from typing import Annotated, Optional

import pytest
import typer

from latentatlas.checks import at_least, one_of, validated
from latentatlas.cli.common import in_flags, option_flags
from latentatlas.errors import UsageError


@validated(k=at_least(1), metric=one_of(("l2", "ip")))
def _top(queries: list, k: int = 10, metric: str = "l2") -> int:
    return k


def test_validated_checks_named_arguments_and_defaults():
    assert _top([], 3) == 3 and _top([], metric="ip") == 10
    with pytest.raises(UsageError, match="k must be >= 1, got 0") as caught:
        _top([], k=0)
    assert caught.value.parameter == "k"
    with pytest.raises(UsageError, match="metric must be one of l2, ip, got 'cos'"):
        _top([], 2, "cos")
    with pytest.raises(UsageError, match="k must be >= 1, got 2.5"):
        _top([], 2.5)
    with pytest.raises(TypeError, match="has no parameter nosuch"):
        validated(nosuch=at_least(1))(_top)


def _command(
    exclude_within: Annotated[Optional[str], typer.Option("--exclude-within")] = None,
    out: Annotated[Optional[str], typer.Option("--out", "-o")] = None,
    k: Annotated[int, typer.Option("-k", "--k")] = 10,
    max_pixels: Annotated[int, typer.Option()] = 1,
) -> None:
    """A command's options."""


def test_errors_name_the_commands_flags():
    flags = option_flags(_command)
    assert flags == {"exclude_within": "--exclude-within", "out": "--out", "k": "-k", "max_pixels": "--max-pixels"}
    assert in_flags(UsageError("k must be >= 1, got 0", parameter="k"), flags) == "-k must be >= 1, got 0"
    error = UsageError("give exactly one query: an image file, out or k (got out)", parameter=("out", "k"))
    assert in_flags(error, flags) == "give exactly one query: an image file, --out or -k (got out)"
    assert in_flags(UsageError("stored without out"), flags) == "stored without out"
