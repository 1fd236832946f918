"""Array stacks: ``.npy`` and ``.npz`` files of images."""

from __future__ import annotations

import math
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import BadInputError
from .options import DEFAULT_MAX_PIXELS
from .records import Record, Scan, sha256_of_array

__all__ = ["ARRAY_SUFFIXES", "NpzMember", "array_records", "npz_members"]

ARRAY_SUFFIXES = frozenset({".npy", ".npz"})
_IMAGE_KEYS = ("images", "x", "X", "data", "arr_0")
_LABEL_KEYS = ("labels", "label", "y")
_TIME_KEYS = ("times", "time")


@dataclass(frozen=True)
class NpzMember:
    """One array of an ``.npz`` as its ``.npy`` header declares it, and the bytes it would take unpacked."""

    shape: tuple[int, ...]
    dtype: np.dtype
    unpacked: int


def npz_members(source: str | Path | IO[bytes], name: str) -> dict[str, NpzMember]:
    """Each array of an ``.npz`` archive by name, read from the headers alone (nothing else is unpacked).

    ``unpacked`` is the larger of what the archive and the array's header
    say, so neither can understate it.

    Raises
    ------
    BadInputError
        ``"<name>: ..."`` for an archive that is not readable, holds anything
        but ``.npy`` members, or arrays of Python objects.
    """
    members = {}
    try:
        with zipfile.ZipFile(source) as archive:
            for member in archive.infolist():
                if not member.filename.endswith(".npy"):
                    raise BadInputError(f"{name}: not an .npz of arrays: the archive holds {member.filename!r}")
                with archive.open(member) as stream:
                    shape, dtype = _npy_header(stream)
                declared = math.prod(shape) * dtype.itemsize
                members[member.filename[:-len(".npy")]] = NpzMember(shape, dtype, max(member.file_size, declared))
    except BadInputError:
        raise
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as error:
        raise BadInputError(f"{name}: not a readable .npz ({error})") from None
    return members


def _npy_header(stream: Any) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an ``.npy`` stream's header declares (only the header is read)."""
    version = np.lib.format.read_magic(stream)
    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = header(stream)
    if dtype.hasobject:
        raise ValueError("arrays of Python objects are refused")
    return tuple(int(n) for n in shape), dtype


def array_records(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Scan:
    """One record per image of an array stack.

    A 2-D array is one image; a 3-D array is ``(N, H, W)`` grey images; a
    4-D array is ``(N, H, W, C)``. An ``.npz`` holds the stack under
    ``images`` (or ``x``, ``data``, ``arr_0``, or its only array), and
    optionally ``labels`` and ``times`` (``datetime64``) of length N; an
    ``.npy`` file's times may sit beside it in ``<stem>.times.npy``.
    Items are named ``path#index``. An ``.npz`` is checked from its headers
    before anything is unpacked: images of more than ``max_pixels`` pixels,
    or arrays that would take more memory than is free, are refused, and
    only the arrays named above are unpacked.
    """
    path = path.resolve()
    stack, labels, times = _load(path, max_pixels)
    if stack.ndim == 2:
        stack = stack[None]
    if stack.ndim not in (3, 4) or 0 in stack.shape:
        raise BadInputError(f"{path}: expected an (N, H, W) or (N, H, W, C) stack, got shape {stack.shape}")
    if stack.dtype.kind not in "uifb":
        raise BadInputError(f"{path}: array of {stack.dtype} is not numeric")
    records = []
    for index in range(stack.shape[0]):
        item = _Item(stack, index)
        records.append(
            Record(
                uri=f"{path}#{index}",
                loader=item.load,
                hasher=item.sha256,
                label=None if labels is None else str(labels[index]),
                time=None if times is None else _to_datetime(times[index]),
                shape=(int(stack.shape[1]), int(stack.shape[2])),
            )
        )
    return Scan(records=records)


class _Item:
    """One image of a memory-mapped stack."""

    def __init__(self, stack: np.ndarray, index: int):
        self.stack, self.index = stack, index

    def load(self) -> np.ndarray:
        return np.array(self.stack[self.index])

    def sha256(self) -> str:
        return sha256_of_array(self.stack[self.index])


def _load(path: Path, max_pixels: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    if not path.is_file():
        raise BadInputError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        try:
            stack = np.load(path, mmap_mode="r", allow_pickle=False)  # mapped: it takes no memory beyond its size
        except (ValueError, OSError, EOFError) as error:
            raise BadInputError(f"{path}: not a readable NumPy file ({error})") from None
        return stack, None, _sibling_times(path, stack)
    members = npz_members(path, str(path))
    key = next((k for k in _IMAGE_KEYS if k in members), None)
    if key is None and len(members) == 1:
        key = next(iter(members))
    if key is None:
        raise BadInputError(f"{path}: no image stack; name it one of {', '.join(_IMAGE_KEYS)}")
    wanted = [key, *(k for k in (*_LABEL_KEYS, *_TIME_KEYS) if k in members)]
    _check_unpacked(path, {k: members[k] for k in wanted}, key, max_pixels)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in wanted}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise BadInputError(f"{path}: not a readable NumPy file ({error})") from None
    stack = arrays[key]
    n = stack.shape[0] if stack.ndim >= 3 else 1
    labels = _optional(arrays, _LABEL_KEYS, n, path)
    times = _optional(arrays, _TIME_KEYS, n, path)
    return stack, labels, times


def _check_unpacked(path: Path, members: dict[str, NpzMember], key: str, max_pixels: int) -> None:
    """Refuse images past ``max_pixels`` and arrays past the memory free now, before unpacking them."""
    shape = members[key].shape
    height, width = (shape[0], shape[1]) if len(shape) == 2 else (shape[1], shape[2]) if len(shape) >= 3 else (1, 1)
    if height * width > max_pixels:
        raise BadInputError(f"{path}: images of {width} x {height} pixels is more than the limit of "
                            f"{max_pixels:,} (--max-pixels)")
    unpacked, free = sum(m.unpacked for m in members.values()), _memory_free()
    if unpacked > free:
        raise BadInputError(f"{path}: its arrays would take {unpacked:,} bytes unpacked, more than the "
                            f"{free:,} bytes of memory free")


def _memory_free() -> int:
    """Bytes of memory available to a new allocation now (``MemAvailable``; all memory where it is not known)."""
    try:
        with open("/proc/meminfo") as lines:
            for line in lines:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _sibling_times(path: Path, stack: np.ndarray) -> np.ndarray | None:
    """The ``<stem>.times.npy`` beside an ``.npy`` stack, checked against its length."""
    times_path = path.with_suffix(".times.npy")
    if not times_path.is_file():
        return None
    n = stack.shape[0] if stack.ndim >= 3 else 1
    return _optional({"times": np.load(times_path, allow_pickle=False)}, _TIME_KEYS, n, times_path)


def _optional(arrays: dict, keys: tuple[str, ...], n: int, path: Path) -> np.ndarray | None:
    key = next((k for k in keys if k in arrays), None)
    if key is None:
        return None
    values = np.asarray(arrays[key]).reshape(-1)
    if len(values) != n:
        raise BadInputError(f"{path}: '{key}' has {len(values)} entries for {n} images")
    return values


def _to_datetime(value) -> datetime:
    return np.datetime64(value, "us").astype(datetime)
