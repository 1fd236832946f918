"""End to end: the one-line messages of a locked atlas, a busy port, an unreachable Ray cluster, an unknown column."""

from __future__ import annotations

import socket
import subprocess
import sys
from contextlib import contextmanager

import pytest

HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'r'); print('held', flush=True); time.sleep(60)"


@contextmanager
def held(atlas, mode: str):
    """Another process holding ``atlas``'s database, for writing (``"w"``) or reading (``"r"``)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(atlas / "atlas.duckdb"), mode],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_a_locked_atlas_names_the_holder_and_what_still_works(cli, atlas_copy, error_line):
    with held(atlas_copy, "r") as pid:
        line = error_line(cli("cluster", "--atlas", atlas_copy, "-k", "3"), 1)
        assert f"process {pid} (" in line and "-c import duckdb" in line
        assert "commands that only read it (search, sql, info, project) still work" in line and f"kill {pid}" in line
        assert cli("search", "--atlas", atlas_copy, "--id", "3", "-k", "2").exit_code == 0  # a read still works
    with held(atlas_copy, "w") as pid:
        line = error_line(cli("info", "--atlas", atlas_copy), 1)
        assert f"process {pid} (" in line and "is writing this atlas" in line


def test_a_busy_port_is_one_error_line_and_nothing_before(cli, digits_atlas, error_line):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", "--atlas", digits_atlas, "--port", port)
    line = error_line(result, 1)
    assert line == (f"Error: cannot listen on 127.0.0.1:{port}: another program is listening there; "
                    "stop it or choose another --port")
    assert result.stdout == ""


@pytest.mark.parametrize("mode, cause", [("", "run with RAY_AUTH_MODE=token"), ("token", "token is missing or different")])
def test_a_ray_connection_failure_names_the_likely_causes(monkeypatch, mode, cause):
    from latentatlas.errors import LatentAtlasError
    from latentatlas.pipeline import ray as distributor

    class Unreachable:
        def is_initialized(self):
            return False

        def init(self, **options):
            raise ConnectionError("Failed to connect to Ray cluster.")

    monkeypatch.setenv("RAY_AUTH_MODE", mode)
    with pytest.raises(LatentAtlasError) as error:
        distributor._connect(Unreachable(), "head:6379")
    assert str(error.value).startswith("cannot reach a Ray cluster at head:6379: Failed to connect to Ray cluster. "
                                       "Likely causes: ")
    assert cause in str(error.value) and "nothing listens at head:6379" in str(error.value)


def test_an_unknown_column_in_where_lists_the_columns(cli, digits_atlas, error_line):
    line = error_line(cli("search", "--atlas", digits_atlas, "--id", "3", "--where", "lable = '1'"), 2)
    assert "lable" in line and "(the columns of images: id, uri, sha256, time, label," in line
