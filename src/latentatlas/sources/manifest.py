"""CSV or Parquet manifests: ``path,time,label,...`` with extra columns kept as meta."""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from .folder import file_record
from .options import DEFAULT_MAX_PIXELS
from .records import Failure, Scan

__all__ = ["MANIFEST_SUFFIXES", "manifest_records"]

MANIFEST_SUFFIXES = frozenset({".csv", ".parquet"})
_PATH_COLUMNS = ("path", "uri", "file", "filename")
_COLUMN_NAME = re.compile(r"[\w .()-]{1,64}")  # what a header names; anything else is not repeated
_MAX_SHOWN_COLUMNS = 50


def manifest_records(manifest: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Scan:
    """One record per row of a manifest.

    The path column (``path``, ``uri``, ``file`` or ``filename``) names image
    files, relative to the manifest's folder unless absolute; ``time``
    (ISO 8601) and ``label`` are optional; every other column goes to the
    record's ``meta``. Rows whose file is missing or whose time cannot be
    read are reported as failures, the others kept.
    """
    rows = _read_rows(manifest)
    if not rows:
        raise BadInputError(f"{manifest}: manifest has no rows")
    columns = list(rows[0])
    path_column = next((c for c in _PATH_COLUMNS if c in columns), None)
    if path_column is None:
        raise BadInputError(f"{manifest}: manifest needs a 'path' column ({_shown_columns(columns)})")
    scan = Scan()
    for number, row in enumerate(rows, start=2):
        value = row.pop(path_column)
        if value in (None, ""):
            scan.failures.append(Failure(f"{manifest}:{number}", "empty path"))
            continue
        path = Path(str(value))
        path = path if path.is_absolute() else manifest.parent / path
        if not path.is_file():
            what = "not a regular file" if path.exists() else "no such file"
            scan.failures.append(Failure(str(path), f"{what} (listed in {manifest.name} row {number})"))
            continue
        try:
            time = _parse_time(row.pop("time", None))
        except ValueError as error:
            scan.failures.append(Failure(str(path), f"bad time in {manifest.name} row {number}: {error}"))
            continue
        label = row.pop("label", None)
        label = None if label in (None, "") else str(label)
        meta = {key: _jsonable(value) for key, value in row.items() if value not in (None, "")}
        scan.records.append(file_record(path, label=label, time=time, meta=meta, max_pixels=max_pixels))
    return scan


def _shown_columns(columns: list[Any]) -> str:
    """The header's names when they look like column names; otherwise not a word of the file is repeated.

    A file that is no manifest (a link to a password file) would
    otherwise have its first line printed in the error.
    """
    if len(columns) <= _MAX_SHOWN_COLUMNS and all(_COLUMN_NAME.fullmatch(str(c)) for c in columns):
        return f"has {', '.join(map(str, columns))}"
    return f"its first line is not a header of column names; the path column is one of {', '.join(_PATH_COLUMNS)}"


def _read_rows(manifest: Path) -> list[dict[str, Any]]:
    if not manifest.is_file():
        raise BadInputError(f"{manifest}: no such file")
    try:
        if manifest.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(manifest).to_pylist()
        with open(manifest, newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))
    except Exception as error:  # csv.Error, UnicodeDecodeError, pyarrow's ArrowInvalid, ...
        raise BadInputError(f"{manifest}: cannot read manifest ({error})") from None


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return _naive_utc(value) if value.tzinfo else value
    text = str(value).strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return _naive_utc(parsed) if parsed.tzinfo else parsed


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)
