"""The command line's own output: --version, one-line errors for typos, tables that fit 80 columns."""

from __future__ import annotations

import shutil

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


@pytest.mark.parametrize("command, extra", [
    ("fit", ["--corrupt", "blur:3"]),
    ("build", ["--bottleneck", "conv"]),
    ("fit", ["--fit", "stretch"]),
    ("build", ["--loss", "nonsense"]),
])
def test_a_refused_command_leaves_no_atlas_directory(cli, error_line, digits_dir, tmp_path, command, extra):
    atlas = tmp_path / "new.atlas"
    error_line(cli(command, digits_dir, "--atlas", atlas, "--epochs", "1", *extra), 2)
    assert not atlas.exists()


def test_a_refusal_on_an_existing_directory_keeps_it(cli, error_line, digits_dir, tmp_path):
    atlas = tmp_path / "kept.atlas"
    atlas.mkdir()
    (atlas / "notes.txt").write_text("mine")
    error_line(cli("fit", digits_dir, "--atlas", atlas, "--corrupt", "blur:3"), 2)
    assert (atlas / "notes.txt").read_text() == "mine"


def test_commands_on_a_missing_atlas_leave_nothing(cli, tmp_path, digits_dir):
    atlas = tmp_path / "missing.atlas"
    for args in (["embed", digits_dir], ["cluster"], ["features", "index"]):
        result = cli(*args, "--atlas", atlas)
        assert result.exit_code != 0 and not atlas.exists(), (args, result.output)


def test_tables_fit_80_columns_with_ids_and_distances_whole(cli, tmp_path, digits_dir, monkeypatch):
    deep = tmp_path / ("a-folder-with-a-long-name" * 3) / "digits"
    shutil.copytree(digits_dir, deep)
    atlas = tmp_path / "deep.atlas"
    cli("build", deep, "--atlas", atlas, "--code-size", "8", "--epochs", "1", "-q")
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("search", "--atlas", atlas, "--id", "17", "-k", "3")
    lines = result.stdout.splitlines()
    assert result.exit_code == 0 and max(len(line) for line in lines) <= 80
    rows = [line.split("│")[1:-1] for line in lines if line.startswith("│")]
    assert [cells[1].strip() for cells in rows][0] == "17" and float(rows[0][2]) == 0.0
    assert all(cells[-1].strip().startswith("…") and cells[-1].strip().endswith(".png") for cells in rows)
    assert "time" not in lines[1]                                  # no column for times this atlas lacks


def test_help_is_one_line_per_option_at_80_columns_and_boxed_where_wide(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    narrow = cli("search", "--help")
    assert narrow.exit_code == 0 and max(len(line) for line in narrow.stdout.splitlines()) <= 80
    assert "  --where <str>            SQL predicate on images: only the rows it matches.\n" in narrow.stdout
    monkeypatch.setenv("COLUMNS", "140")
    assert "╭─ Options" in cli("search", "--help").stdout
