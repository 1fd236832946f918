"""What to tell a user whose atlas another process holds: who holds it, what still works, what to do."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["locked_message"]

_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>\S+) \(PID (?P<pid>\d+)\)")


def locked_message(db: Path, error: BaseException, read_only: bool) -> str | None:
    """One line for DuckDB's lock conflict on ``db``, or None when ``error`` is something else.

    The line names the holding process (its command line where the system
    shows it), says which commands still work and how to go on.
    """
    found = _HOLDER.search(str(error))
    if found is None:
        return None
    pid = found["pid"]
    holder = f"process {pid} ({_command_line(pid) or found['program']})"
    if read_only:
        return (f"{db.parent}: {holder} is writing this atlas, so it cannot be read until it ends; "
                f"wait for it, or stop it (Ctrl+C where it runs, or `kill {pid}`), then run this again")
    return (f"{db.parent}: {holder} has this atlas open; commands that only read it (search, sql, info, "
            f"project) still work, but this one writes: stop that process (Ctrl+C where it runs, "
            f"or `kill {pid}`), then run this again")


def _command_line(pid: str) -> str | None:
    """The holder's command line, shortened to its program's name and arguments (Linux's /proc), or None."""
    try:
        parts = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    parts = [p for p in parts if p]
    if not parts:
        return None
    if Path(parts[0]).name.startswith("python") and len(parts) > 1:
        parts = parts[1:] if parts[1] != "-m" else parts[2:]
    line = " ".join([Path(parts[0]).name, *parts[1:]])
    return line if len(line) <= 120 else line[:119] + "…"
