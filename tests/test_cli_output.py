"""The command line's own output: --version, one-line errors for typos, tables that fit 80 columns."""

from __future__ import annotations

import pytest

from latentatlas import __version__


def test_version(cli):
    result = cli("--version")
    assert result.exit_code == 0 and result.stdout == f"latentatlas {__version__}\n"


@pytest.mark.parametrize("args, message", [
    (["serach"], "No such command 'serach'. Did you mean 'search'?"),
    (["datasets", "exprt"], "No such command 'exprt'. Did you mean 'export'?"),
    (["search", "--atlass", "x.atlas"], "No such option: --atlass"),
    (["search", "--atlas"], "Option '--atlas' requires an argument."),
])
def test_typos_are_one_error_line_with_the_suggestion(cli, error_line, args, message):
    line = error_line(cli(*args), 2)
    assert line.startswith(f"Error: {message}") and line.endswith("--help)")
