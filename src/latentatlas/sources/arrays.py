"""Array stacks: ``.npy`` and ``.npz`` files of images."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

from ..errors import BadInputError
from .records import Record, Scan, sha256_of_array

__all__ = ["ARRAY_SUFFIXES", "array_records"]

ARRAY_SUFFIXES = frozenset({".npy", ".npz"})
_IMAGE_KEYS = ("images", "x", "X", "data", "arr_0")
_LABEL_KEYS = ("labels", "label", "y")
_TIME_KEYS = ("times", "time")


def array_records(path: Path) -> Scan:
    """One record per image of an array stack.

    A 2-D array is one image; a 3-D array is ``(N, H, W)`` grey images; a
    4-D array is ``(N, H, W, C)``. An ``.npz`` holds the stack under
    ``images`` (or ``x``, ``data``, ``arr_0``, or its only array), and
    optionally ``labels`` and ``times`` (``datetime64``) of length N; an
    ``.npy`` file's times may sit beside it in ``<stem>.times.npy``.
    Items are named ``path#index``.
    """
    path = path.resolve()
    stack, labels, times = _load(path)
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


def _load(path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    try:
        if path.suffix.lower() == ".npy":
            stack = np.load(path, mmap_mode="r", allow_pickle=False)
            return stack, None, _sibling_times(path, stack)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise BadInputError(f"{path}: no such file") from None
    except (ValueError, OSError, EOFError) as error:
        raise BadInputError(f"{path}: not a readable NumPy file ({error})") from None
    key = next((k for k in _IMAGE_KEYS if k in arrays), None)
    if key is None and len(arrays) == 1:
        key = next(iter(arrays))
    if key is None:
        raise BadInputError(f"{path}: no image stack; name it one of {', '.join(_IMAGE_KEYS)}")
    stack = arrays[key]
    n = stack.shape[0] if stack.ndim >= 3 else 1
    labels = _optional(arrays, _LABEL_KEYS, n, path)
    times = _optional(arrays, _TIME_KEYS, n, path)
    return stack, labels, times


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
