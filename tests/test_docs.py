"""Every shell and Python block of README.md and docs/*.md runs as written.

Each page runs in a fresh temporary directory, its blocks in order: shell
blocks (```sh, ```bash, ```console) with ``bash -e`` and the venv's
``bin`` first on PATH, Python blocks in one namespace per page. A block
preceded by an HTML comment ``<!-- not-run: why -->`` is skipped (the set-up
commands, the benchmarks). Sizes are reduced only through the environment:
``LATENTATLAS_MAX_SECONDS`` caps every training run, whatever its
``--time-budget`` or ``--epochs`` say.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"sh", "bash", "console"}
FENCE = re.compile(r"^```([A-Za-z]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
NOT_RUN = re.compile(r"<!--\s*not-run\b")
MAX_SECONDS = "5"
BLOCK_TIMEOUT = 300


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: its language, its text and the line it starts on."""

    language: str
    text: str
    line: int


def blocks(page: Path) -> list[Block]:
    """The shell and Python blocks of ``page`` that run, in order (not-run blocks left out)."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        language = match.group(1).lower()
        if language not in SHELL | {"python"}:
            continue
        before = text[:match.start()].rstrip().splitlines()
        if before and NOT_RUN.search(before[-1]):
            continue
        found.append(Block(language, match.group(2), text.count("\n", 0, match.start()) + 1))
    return found


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["LATENTATLAS_MAX_SECONDS"] = MAX_SECONDS
    env["COLUMNS"] = "100"
    return env


def _run_shell(block: Block, where: Path, env: dict[str, str]) -> None:
    lines = [line[2:] if line.startswith("$ ") else line for line in block.text.splitlines()]
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", "\n".join(lines)], cwd=where, env=env,
                          capture_output=True, text=True, timeout=BLOCK_TIMEOUT)
    if done.returncode != 0:
        raise AssertionError(f"shell block failed with status {done.returncode}:\n{block.text}\n"
                             f"--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}")


def test_every_page_has_blocks_and_unique_atlases() -> None:
    """Each docs page makes its own atlases, named apart from make demo's and from every other page's."""
    owner: dict[str, str] = {}
    for page in PAGES:
        names = set(re.findall(r"--atlas[ =]([\w.-]+\.atlas)", page.read_text(encoding="utf-8")))
        names |= set(re.findall(r"Atlas\.open\(\"([\w.-]+\.atlas)\"", page.read_text(encoding="utf-8")))
        for name in names - {"wx.atlas", "demo.atlas"} if page.name == "README.md" else names:
            assert name not in {"wx.atlas", "demo.atlas"}, f"{page.name} uses make demo's {name}"
            assert owner.setdefault(name, page.name) == page.name, f"{name} in {owner[name]} and {page.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's blocks run in order in a fresh directory and none fails."""
    found = blocks(page)
    if not found:
        pytest.skip(f"{page.name} has no block to run")
    env = _environment()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LATENTATLAS_MAX_SECONDS", MAX_SECONDS)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    ran = []
    for index, block in enumerate(found):
        start = time.perf_counter()
        try:
            if block.language == "python":
                exec(compile(block.text, f"{page.name}:{block.line}", "exec"), namespace)
            else:
                _run_shell(block, tmp_path, env)
        except Exception as error:
            raise AssertionError(f"{page.name}, block {index} (line {block.line}) failed: {error}") from error
        ran.append(block.line)
        print(f"{page.name}:{block.line} {time.perf_counter() - start:.1f} s")
    assert ran == [block.line for block in found], f"{page.name}: not every block ran"


def test_collector_reads_fences_and_skips_not_run(tmp_path: Path) -> None:
    """The collector keeps sh, bash, console and python blocks and drops marked and other ones."""
    page = tmp_path / "page.md"
    page.write_text("text\n\n```sh\necho a\n```\n\n<!-- not-run: set-up -->\n```sh\nmake demo\n```\n\n"
                    "```text\nnot code\n```\n\n```python\nx = 1\n```\n", encoding="utf-8")
    found = blocks(page)
    assert [(b.language, b.text, b.line) for b in found] == [("sh", "echo a\n", 3), ("python", "x = 1\n", 16)]
