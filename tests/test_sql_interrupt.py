"""Ctrl-C stops a user's SQL query, even one whose plan never looks for signals (a recursive CTE)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from latentatlas.store.database import Store

ENDLESS = {
    "scan": "SELECT count(*) FROM range(1000000000000) WHERE range % 7 = 3",
    "recursive": "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t",
}


@pytest.fixture()
def empty_atlas(tmp_path) -> Path:
    path = tmp_path / "empty.atlas"
    Store(path).close()
    return path


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals reach the main thread")
@pytest.mark.parametrize("query", ENDLESS.values(), ids=ENDLESS.keys())
def test_sigint_interrupts_a_query_and_the_connection_still_answers(empty_atlas, query):
    store = Store(empty_atlas, read_only=True)
    store.query("SELECT 1")  # the guard's parser is loaded: the signal comes while the query runs
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job may ignore SIGINT
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            store.query(query)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert store.query("SELECT 42 AS answer").rows == [(42,)]
    store.close()


def test_ctrl_c_ends_the_sql_command_in_one_line(empty_atlas):
    command = [sys.executable, "-c", "from latentatlas.cli import main; main()", "sql", "--atlas", str(empty_atlas),
               ENDLESS["recursive"]]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    database = str(empty_atlas / "atlas.duckdb")
    for _ in range(600):  # until the command has the atlas open: its query starts right after
        if any(os.path.realpath(f"/proc/{process.pid}/fd/{fd}") == database
               for fd in os.listdir(f"/proc/{process.pid}/fd")):
            break
        time.sleep(0.05)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)  # without the interrupt it would run until killed
    assert process.returncode == 130 and stderr.strip() == "Interrupted.", stderr
