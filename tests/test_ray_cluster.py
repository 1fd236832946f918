"""A real Ray cluster on this machine: a head and a second node started with ``ray start``, one worker killed mid-run.

The nodes run ``ray start ... --block`` so that each node's processes are
children of one process this test started and stops by its id (``ray
stop`` would stop every Ray node of the machine).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import latentatlas
from latentatlas.store import Store

pytest.importorskip("ray")
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds the nodes' processes in /proc")

BIN = Path(sys.executable).parent
START_TIMEOUT = 60
EMBED_TIMEOUT = 240


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["RAY_AUTH_MODE"] = "token"  # ray start makes ~/.ray/auth_token if missing; clients of the cluster send it
    env["PYTHONPATH"] = os.pathsep.join([str(Path(latentatlas.__file__).parents[1]), env.get("PYTHONPATH", "")])
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _children() -> dict[int, list[int]]:
    """Child process ids of every process, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) if entry.name.isdigit() else None
        except (OSError, ValueError, IndexError):
            continue
        if ppid is not None:
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pids: list[int]) -> list[int]:
    tree, found, todo = _children(), [], list(pids)
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _node(args: list[str], temp_dir: Path) -> subprocess.Popen:
    ports = ["--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
             "--dashboard-agent-grpc-port", "--metrics-export-port", "--runtime-env-agent-port"]
    command = [str(BIN / "ray"), "start", "--block", "--num-cpus", "1",
               "--temp-dir", str(temp_dir), "--min-worker-port", "0", "--max-worker-port", "0",
               "--disable-usage-stats", *args]
    for option in ports:
        command += [option, str(_free_port())]
    log = open(temp_dir.with_suffix(".log"), "wb")
    return subprocess.Popen(command, env=_environment(), stdout=log, stderr=subprocess.STDOUT)


def _stop(node: subprocess.Popen) -> None:
    """Stop a ``ray start --block`` process and every process under it, by their ids."""
    under = _descendants([node.pid])
    node.send_signal(signal.SIGTERM)
    try:
        node.wait(5)
    except subprocess.TimeoutExpired:
        node.kill()
        node.wait()
    for pid in under:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_for_nodes(address: str, count: int) -> None:
    probe = ("import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False); "
             "print(sum(n['Alive'] for n in ray.nodes()))")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        done = subprocess.run([sys.executable, "-c", probe, address], env=_environment(), capture_output=True,
                              text=True, timeout=START_TIMEOUT)
        if done.returncode == 0 and done.stdout.strip().splitlines()[-1:] == [str(count)]:
            return
        time.sleep(1)
    raise AssertionError(f"the Ray cluster at {address} did not show {count} nodes")


@pytest.fixture()
def cluster():
    """A head node and a second node of 1 CPU each on free ports; yields the head's address."""
    temp = Path(tempfile.mkdtemp(prefix="la-ray-", dir="/tmp"))  # short: Ray's socket paths have a length limit
    port = _free_port()
    address = f"127.0.0.1:{port}"
    nodes = [_node(["--head", "--port", str(port), "--include-dashboard", "false",
                    "--dashboard-port", str(_free_port())], temp / "head")]
    try:
        time.sleep(2)
        nodes.append(_node(["--address", address], temp / "second"))
        _wait_for_nodes(address, 2)
        yield address, nodes
    finally:
        for node in reversed(nodes):
            _stop(node)
        shutil.rmtree(temp, ignore_errors=True)


def test_killing_a_worker_mid_run_leaves_every_row_once(tmp_path, cluster, digits_atlas, digits_dir):
    address, nodes = cluster
    atlas = Path(shutil.copytree(digits_atlas, tmp_path / "cluster.atlas"))
    store = Store(atlas)
    store.clear()
    store.close()
    embed = subprocess.Popen(
        [str(BIN / "latentatlas"), "embed", str(digits_dir), "--atlas", str(atlas), "--engine", "ray",
         "--address", address, "--workers", "2", "--batch-size", "4", "--json", "--quiet"],
        env=_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + EMBED_TIMEOUT
    while killed is None and embed.poll() is None and time.monotonic() < deadline:
        workers = [pid for pid in _descendants([n.pid for n in nodes]) if _command(pid).startswith("ray::MapWorker")]
        if workers and any(atlas.glob("ingest/*/shard-*.parquet")):
            killed = workers[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    out, err = embed.communicate(timeout=EMBED_TIMEOUT)
    assert killed is not None, "the embed ended before a worker could be killed"
    assert embed.returncode == 0, err
    assert json.loads(out)["added"] == 300
    store = Store(atlas, read_only=True)
    counts = store.query("SELECT count(*), count(DISTINCT (uri, sha256)), count(DISTINCT id) FROM images").rows
    codes = store.count("embeddings")
    store.close()
    assert counts == [(300, 300, 300)] and codes == 300
