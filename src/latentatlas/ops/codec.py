"""Compress and decompress: one small code file per image, decoded back at the original size.

The files are described in :mod:`latentatlas.codec.codefile`. ``int8`` codes use a
per-dimension scale learned once per model from the atlas's embeddings and
kept in ``model/int8_scale.json``; each int8 file carries the table's CRC-32
so that a file is never decoded with another table.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..checks import at_least, one_of
from ..codec.codefile import SUFFIX, CodeHeader, file_size, pack, unpack
from ..codec.quantise import DTYPES, Int8Quantiser, dequantise, quantise
from ..errors import BadInputError, LatentAtlasError, ModelMismatchError, UsageError
from ..models import LatentModel
from ..pipeline.runner import Batch, run_batches
from ..progress import ProgressCallback, silent
from ..sources import Failure, ReaderOptions, Record, read_source
from ..sources.loading import Loaded
from ..store.database import Store
from .decode import save_decoded
from .embed import check_model_matches, whole_image_options

__all__ = [
    "INT8_SCALE_FILE", "CompressOptions", "DecompressOptions", "CompressReport", "DecompressReport", "int8_quantiser", "compress", "decompress",
    "read_code", "default_format", "named_records",
]

INT8_SCALE_FILE = "int8_scale.json"


@dataclass(frozen=True, kw_only=True)
class CompressOptions:
    """How :func:`compress` stores codes: ``dtype`` (float32, float16 or int8) and ``batch_size`` images at once.

    Raises
    ------
    UsageError
        Naming the parameter, on an unknown dtype or ``batch_size < 1``.
    """

    dtype: str = "float16"
    batch_size: int = 256

    def __post_init__(self) -> None:
        one_of(DTYPES)("dtype", self.dtype)
        at_least(1)("batch_size", self.batch_size)


@dataclass(frozen=True, kw_only=True)
class DecompressOptions:
    """How :func:`decompress` writes: ``format`` (png, tif, ... or npy; None: :func:`default_format`), ``batch_size`` codes at once.

    Raises
    ------
    UsageError
        Naming the parameter, on ``batch_size < 1``.
    """

    format: str | None = None
    batch_size: int = 256

    def __post_init__(self) -> None:
        at_least(1)("batch_size", self.batch_size)


@dataclass
class CompressReport:
    """What :func:`compress` wrote."""

    out: Path
    dtype: str
    code_size: int
    files: list[Path] = field(default_factory=list)
    bytes: int = 0
    pixels: int = 0
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-able summary: counts, bytes per file and bits per pixel."""
        return {
            "out": str(self.out), "dtype": self.dtype, "code_size": self.code_size, "files": len(self.files),
            "bytes_per_file": file_size(self.code_size, self.dtype), "bytes": self.bytes,
            "bpp": 8.0 * self.bytes / self.pixels if self.pixels else None,
            "failed": [{"uri": f.uri, "reason": f.reason} for f in self.failures],
        }


@dataclass
class DecompressReport:
    """What :func:`decompress` wrote."""

    out: Path
    files: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-able summary."""
        return {"out": str(self.out), "images": len(self.files),
                "failed": [{"uri": f.uri, "reason": f.reason} for f in self.failures]}


def int8_quantiser(store: Store, model: LatentModel) -> Int8Quantiser:
    """The model's int8 scale table: read from the model directory, or learned from the atlas's codes.

    The table is learned once, from the embeddings stored when it is first
    needed, and kept beside the weights; later embeddings do not change it,
    so files made with it stay decodable.

    Raises
    ------
    UsageError
        If the table has to be learned and the atlas holds no codes.
    ModelMismatchError
        If the stored codes were made by another model.
    """
    path = store.model_dir / INT8_SCALE_FILE
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            if data.get("model") == model.fingerprint:
                return Int8Quantiser.from_dict(data)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise BadInputError(f"{path}: not an int8 scale table; delete it to learn it again") from None
    check_model_matches(store, model)
    _, codes = store.vectors()
    if len(codes) == 0:
        raise UsageError(f"{store.path}: int8 codes need the atlas's stored codes to learn their scale; "
                         "run `latentatlas embed` first or use dtype float16", parameter="dtype")
    quantiser = Int8Quantiser().fit(codes)
    payload = {"model": model.fingerprint, "rows": len(codes), **quantiser.to_dict()}
    _write_atomic(path, (json.dumps(payload) + "\n").encode())
    return quantiser


def compress(
    store: Store,
    model: LatentModel,
    sources: Sequence[str | Path],
    out: str | Path,
    options: CompressOptions = CompressOptions(),
    progress: ProgressCallback = silent,
) -> CompressReport:
    """Write one code file per image of ``sources`` into ``out``.

    Files mirror the sources' layout: ``out/<path below the folder>.lac``
    for folders and manifests, ``out/<name>.lac`` for single files and
    ``out/<name>_<index>.lac`` for items of an array stack. Unreadable
    images are skipped and reported.

    Raises
    ------
    UsageError
        When two images would get the same file name.
    BadInputError
        If no image could be read.
    """
    dtype, batch_size = options.dtype, options.batch_size
    int8 = int8_quantiser(store, model) if dtype == "int8" else None
    named, failures = named_records(sources, options=whole_image_options(store))
    names = dict(named)
    fingerprint = model.fingerprint  # hashes every weight: once per call
    report = CompressReport(out=Path(out), dtype=dtype, code_size=model.code_size)

    def encode(loaded: Loaded, failures: list[Failure]) -> Batch:
        codes = quantise(model.encode(loaded.images, [r.uri for r in loaded.records], batch_size), dtype, int8)
        return Batch(loaded.records, loaded.images, codes)

    def write(batch: Batch) -> int:
        for record, image, values in zip(batch.records, batch.images, batch.outputs):
            header = CodeHeader(fingerprint, dtype, model.code_size, image.shape[0], image.shape[1],
                                int8.tag if int8 is not None else None)
            path = report.out / names[record].with_suffix(SUFFIX)
            data = pack(header, values)
            _write_atomic(path, data)
            report.files.append(path)
            report.bytes += len(data)
            report.pixels += image.shape[0] * image.shape[1]
        return len(batch.records)

    run = run_batches(list(names), encode, write, stage="compress", batch_size=batch_size, progress=progress,
                      failures=failures, nothing_done="compressed")
    report.failures = run.failures
    return report


def read_code(path: str | Path, model: LatentModel, int8: Callable[[], Int8Quantiser] | None = None,
              fingerprint: str | None = None) -> tuple[CodeHeader, np.ndarray]:
    """A code file's header and its code as float32, checked against ``model``.

    ``int8`` gives the model's int8 scale table; it is called only for an
    int8 file. ``fingerprint`` is the model's when already known (computing
    it hashes every weight).

    Raises
    ------
    BadInputError
        If the file cannot be read, is not a code file, or is truncated.
    ModelMismatchError
        If another model (or another int8 scale table) made it.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise BadInputError(f"{path}: cannot read ({error.strerror or error})") from None
    header, values = unpack(data, str(path))
    fingerprint = fingerprint or model.fingerprint
    if header.model != fingerprint:
        raise ModelMismatchError(f"{path}: made by model {header.model}, not by this atlas's model {fingerprint}")
    if header.code_size != model.code_size:
        raise ModelMismatchError(f"{path}: holds {header.code_size} numbers; the model's codes have {model.code_size}")
    table = None
    if header.dtype == "int8":
        table = int8() if int8 is not None else None
        if table is None or header.int8_tag != table.tag:
            raise ModelMismatchError(f"{path}: made with another int8 scale table than this atlas's "
                                     f"(tag {header.int8_tag:08x}); it cannot be decoded here")
    return header, dequantise(values, header.dtype, table)


def default_format(model: LatentModel) -> str:
    """``png`` for integer collections (exact values), ``npy`` for float fields."""
    return "png" if np.dtype(model.preprocess.dtype).kind in "ub" else "npy"


def decompress(
    store: Store,
    model: LatentModel,
    files: Sequence[str | Path],
    out: str | Path,
    options: DecompressOptions = DecompressOptions(),
    progress: ProgressCallback = silent,
) -> DecompressReport:
    """Decode code files (or folders of them) to images at their original size in ``out``.

    An image is written as ``out/<file's name>.<format>`` (folders keep
    their layout). Files that cannot be decoded are skipped and reported;
    when none can, the first file's error is raised.
    """
    format = (options.format or default_format(model)).lower().lstrip(".")
    batch_size = options.batch_size
    named = _named_code_files(files)
    int8 = functools.cache(lambda: int8_quantiser(store, model))
    fingerprint = model.fingerprint
    report = DecompressReport(out=Path(out))
    errors: list[LatentAtlasError] = []
    progress("decompress", 0, len(named))
    for start in range(0, len(named), batch_size):
        codes, sizes, targets = [], [], []
        for path, relative in named[start:start + batch_size]:
            try:
                header, code = read_code(path, model, int8, fingerprint)
            except LatentAtlasError as error:
                errors.append(error)
                report.failures.append(Failure(str(path), _reason(error, path)))
                continue
            codes.append(code)
            sizes.append(model.preprocessor.output_size(header.height, header.width))
            targets.append(report.out / relative.with_suffix("." + format))
        if codes:
            for image, target in zip(model.decode_images(np.stack(codes), sizes), targets):
                report.files.append(save_decoded(target, image, model.preprocess.value_range))
        progress("decompress", min(start + batch_size, len(named)), len(named), failed=len(report.failures))
    if not report.files and errors:
        raise errors[0]
    return report


def _reason(error: Exception, path: Path) -> str:
    text, prefix = str(error), f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def named_records(sources: Sequence[str | Path], suffix: str = SUFFIX, verb: str = "compress",
                  options: ReaderOptions | None = None) -> tuple[list[tuple[Record, Path]], list[Failure]]:
    """Each record of the sources (read with ``options``) with its file name below ``out`` (without suffix), and what failed.

    Folders and manifests keep the layout below them, single files their
    name, and items of an array stack become ``<name>_<index>``.

    Raises
    ------
    UsageError
        When two records would get the same name (``suffix`` and ``verb``
        word the message).
    """
    named: list[tuple[Record, Path]] = []
    failures: list[Failure] = []
    seen: dict[Path, str] = {}
    for source in sources:
        source = Path(source).expanduser()
        scan = read_source(source, options)
        failures.extend(scan.failures)
        base = source.resolve() if source.is_dir() else source.resolve().parent
        for record in scan.records:
            file, _, index = record.uri.partition("#")
            try:
                relative = Path(file).relative_to(base).with_suffix("")
            except ValueError:
                relative = Path(Path(file).stem)
            if index:
                relative = relative.with_name(f"{relative.name}_{index}")
            if relative in seen:
                raise UsageError(f"{seen[relative]} and {record.uri} would both be written to {relative}{suffix}; "
                                 f"{verb} them into separate out folders", parameter="out")
            seen[relative] = record.uri
            named.append((record, relative))
    return named, failures


def _named_code_files(files: Sequence[str | Path]) -> list[tuple[Path, Path]]:
    """Code files of ``files`` (folders searched recursively) with their names relative to the argument."""
    named = []
    for item in files:
        item = Path(item).expanduser()
        if item.is_dir():
            found = sorted(item.rglob(f"*{SUFFIX}"))
            if not found:
                raise BadInputError(f"{item}: folder holds no {SUFFIX} files")
            named += [(path, path.relative_to(item)) for path in found]
        else:
            named.append((item, Path(item.name)))
    if not named:
        raise UsageError("no code files given")
    return named


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
