"""Evaluate the codec: bytes, bits per pixel, PSNR and SSIM of our codes beside PCA, JPEG and WebP.

Every method is scored the same way: the restored image at the size
decompression gives (the original size, or the centred crop's for a
cropping model) against the original mapped to [0, 1] by the model's value
range, in the model's channels. Bytes are whole files: our header
included, JPEG's and WebP's headers included.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...baselines.codec import IMAGE_FORMATS, LinearCodec, decode_image, match_quality, quality_sweep
from ...codec.codefile import file_size
from ...codec.quantise import DTYPES, Int8Quantiser, dequantise, quantise
from ...checks import one_of
from ...errors import BadInputError, UsageError
from ...models import LatentModel
from ...models.preprocess import Preprocessor
from ...progress import ProgressCallback, silent
from ...sources import Failure, ReaderOptions, read_sources
from ...sources.loading import load_records
from ...store.database import Store
from ..codec import int8_quantiser
from ..embed import whole_image_options
from .quality import psnr, ssim

__all__ = ["CodecEvalOptions", "CodecRow", "CodecEvaluation", "evaluate_codec", "CURVE_QUALITIES"]

CURVE_QUALITIES = {"jpeg": (1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95), "webp": (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)}


@dataclass
class CodecRow:
    """One method at one size: means over the evaluated images.

    For JPEG and WebP ``dtype`` names the codes whose byte counts they were
    matched to (``"float16, int8"`` when both sizes pick the same files:
    one row per distinct match), ``quality`` gives the chosen qualities (min, median, max)
    and ``smallest_share`` the share of images for which even the format's
    smallest file was larger than that byte count.
    """

    method: str
    dtype: str
    bytes_per_image: float
    bpp: float
    psnr: float
    ssim: float | None
    quality: dict[str, float] | None = None
    smallest_share: float | None = None


@dataclass
class CodecEvaluation:
    """The rate–distortion table, the JPEG/WebP curves over quality, and what was evaluated."""

    rows: list[CodecRow]
    curves: dict[str, list[dict[str, float]]]
    images: int
    code_size: int
    pca: str
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, method: str, dtype: str) -> CodecRow:
        """The row of ``method`` at ``dtype`` (for JPEG and WebP: the row matched to ``dtype``'s size)."""
        return next(r for r in self.rows if r.method == method and dtype in r.dtype.split(", "))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: ``rows``, ``curves``, ``images``, ``code_size``, ``pca``, ``failed``, ``notes``."""
        return {
            "rows": [asdict(r) for r in self.rows], "curves": self.curves, "images": self.images,
            "code_size": self.code_size, "pca": self.pca,
            "failed": [{"uri": f.uri, "reason": f.reason} for f in self.failures], "notes": self.notes,
        }


@dataclass
class _Images:
    """The evaluated images: model inputs, restored sizes, and references in [0, 1]."""

    inputs: np.ndarray
    sizes: list[tuple[int, int]]
    references: list[np.ndarray]

    @property
    def pixels(self) -> int:
        return sum(h * w for h, w in self.sizes)


@dataclass(frozen=True, kw_only=True)
class CodecEvalOptions:
    """What :func:`evaluate_codec` compares.

    Parameters
    ----------
    dtypes : sequence of str
        Code dtypes to score (float32, float16, int8; at least one); JPEG and WebP are matched to each one's bytes.
    formats : sequence of str
        Image formats to compare with (``jpeg``, ``webp``; none: codes and PCA only).

    Raises
    ------
    UsageError
        Naming the parameter, on no dtype, an unknown dtype or an unknown format.
    """

    dtypes: Sequence[str] = DTYPES
    formats: Sequence[str] = tuple(IMAGE_FORMATS)

    def __post_init__(self) -> None:
        if not self.dtypes:
            raise UsageError("give at least one dtype", parameter="dtypes")
        for dtype in self.dtypes:
            one_of(DTYPES)("dtypes", dtype)
        for name in self.formats:
            one_of(IMAGE_FORMATS)("formats", name)


def evaluate_codec(
    store: Store,
    model: LatentModel,
    sources: Sequence[str | Path],
    pca_train: Sequence[str | Path] | None = None,
    options: CodecEvalOptions = CodecEvalOptions(),
    progress: ProgressCallback = silent,
) -> CodecEvaluation:
    """Rate–distortion of our codes, PCA, JPEG and WebP on the (held-out) images of ``sources``.

    Parameters
    ----------
    store, model
        The atlas and its model; int8 codes use the atlas's int8 scale table.
    sources
        The images to evaluate: they should not be among the training images.
    pca_train
        Images to fit PCA on (the model's training images). Default: the
        model's own linear path, which is PCA of its training split. With
        ``pca_train`` PCA's int8 scale is learned from their codes, otherwise
        from the evaluated images' codes (favouring PCA slightly).
    options
        The dtypes and image formats compared (:class:`CodecEvalOptions`).
    """
    dtypes, formats = list(options.dtypes), tuple(options.formats)
    reading = whole_image_options(store)  # read as compress reads them
    scan = read_sources(sources, reading)
    loaded = load_records(scan.records)
    failures = scan.failures + loaded.failures
    if not loaded.images:
        raise BadInputError(f"no readable image to evaluate{': ' + str(failures[0]) if failures else ''}")
    images = _prepare(model, loaded.images, [r.uri for r in loaded.records])
    d = model.code_size
    int8 = int8_quantiser(store, model) if "int8" in dtypes else None

    rows, notes = [], []
    codes = model.encode_inputs(images.inputs)
    for dtype in dtypes:
        restored = model.decode(dequantise(quantise(codes, dtype, int8), dtype, int8))
        rows.append(_score("latent", dtype, file_size(d, dtype), _restore(model, restored, images.sizes), images))

    linear, pca_int8, pca = _pca(model, pca_train, dtypes, reading)
    pca_codes = linear.encode(images.inputs)
    if "int8" in dtypes and pca_int8 is None:
        pca_int8 = Int8Quantiser().fit(pca_codes)
        pca += "; int8 scale from the evaluated images"
    for dtype in dtypes:
        restored = linear.decode(dequantise(quantise(pca_codes, dtype, pca_int8), dtype, pca_int8))
        rows.append(_score("pca", dtype, file_size(d, dtype), _restore(model, restored, images.sizes), images))

    curves: dict[str, list[dict[str, float]]] = {}
    channels = images.inputs.shape[1]
    if channels not in (1, 3):
        notes.append(f"no JPEG or WebP: images have {channels} channels")
        formats = ()
    for name in formats:
        files = _sweep(images, name, progress)
        rows += _matched(name, {dtype: file_size(d, dtype) for dtype in dtypes}, files, images)
        curves[name] = [_curve_point(name, q, files, images) for q in CURVE_QUALITIES[name]]
    return CodecEvaluation(rows, curves, len(images.inputs), d, pca, failures, notes)


def _prepare(model: LatentModel, pixels: list[np.ndarray], uris: list[str]) -> _Images:
    sizes = [model.preprocessor.output_size(*image.shape[:2]) for image in pixels]
    return _Images(model.prepare(pixels, uris), sizes, _references(model, pixels, sizes))


def _references(model: LatentModel, images: Sequence[np.ndarray], sizes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """Images in the collection's units to ``(C, h, w)`` in [0, 1] at their restored size."""
    by_size: dict[tuple[int, int], Preprocessor] = {}
    out = []
    for image, size in zip(images, sizes):
        if size not in by_size:
            by_size[size] = Preprocessor(replace(model.preprocess, height=size[0], width=size[1]))
        out.append(by_size[size](image))
    return out


def _restore(model: LatentModel, outputs: np.ndarray, sizes: list[tuple[int, int]]) -> list[np.ndarray]:
    """Model outputs to what decompression writes, as references: (C, h, w) in [0, 1]."""
    return _references(model, model.to_images(outputs, sizes), sizes)


def _score(method: str, dtype: str, bytes_per_image: float, estimates: list[np.ndarray], images: _Images,
           **extra: Any) -> CodecRow:
    scores = [float(psnr(r[None], e[None])[0]) for r, e in zip(images.references, estimates)]
    similarities = [ssim(r, e) for r, e in zip(images.references, estimates)]
    mean_ssim = float(np.nanmean(similarities)) if not np.isnan(similarities).all() else None
    n = len(images.references)
    return CodecRow(method, dtype, float(bytes_per_image), 8.0 * bytes_per_image * n / images.pixels,
                    float(np.mean(scores)), mean_ssim, **extra)


def _pca(model: LatentModel, pca_train: Sequence[str | Path] | None, dtypes: Sequence[str],
         options: ReaderOptions) -> tuple[LinearCodec, Int8Quantiser | None, str]:
    if pca_train is None:
        return LinearCodec.from_model(model), None, "the model's linear path (PCA of its training split)"
    loaded = load_records(read_sources(pca_train, options).records)
    if len(loaded.images) < 2:
        raise BadInputError(f"need at least 2 readable images to fit PCA, found {len(loaded.images)}")
    inputs = model.prepare(loaded.images, [r.uri for r in loaded.records])
    linear = LinearCodec.fit(inputs, model.code_size)
    int8 = Int8Quantiser().fit(linear.encode(inputs)) if "int8" in dtypes else None
    return linear, int8, f"fitted on {len(inputs)} training images"


def _pixels_8bit(reference: np.ndarray) -> np.ndarray:
    """A reference ``(C, h, w)`` in [0, 1] as the 8-bit image JPEG and WebP take."""
    pixels = np.rint(np.clip(reference, 0.0, 1.0) * 255.0).astype(np.uint8).transpose(1, 2, 0)
    return pixels[..., 0] if pixels.shape[2] == 1 else pixels


def _sweep(images: _Images, name: str, progress: ProgressCallback) -> list[dict[int, bytes]]:
    files = []
    progress(name, 0, len(images.references))
    for done, reference in enumerate(images.references, start=1):
        files.append(quality_sweep(_pixels_8bit(reference), name))
        progress(name, done, len(images.references))
    return files


def _decoded(files: list[bytes], images: _Images) -> list[np.ndarray]:
    out = []
    for data, reference in zip(files, images.references):
        pixels = decode_image(data, grey=reference.shape[0] == 1).astype(np.float32) / 255.0
        out.append(pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1))
    return out


def _matched(name: str, targets: dict[str, int], files: list[dict[int, bytes]], images: _Images) -> list[CodecRow]:
    """One row per distinct choice of files: codes whose sizes pick the same qualities share a row."""
    choices: dict[tuple, list[str]] = {}
    for dtype, target in targets.items():
        chosen = tuple(match_quality({q: len(b) for q, b in sweep.items()}, target) for sweep in files)
        choices.setdefault(chosen, []).append(dtype)
    rows = []
    for chosen, dtypes in choices.items():
        blobs = [sweep[q] for sweep, (q, _) in zip(files, chosen)]
        qualities = np.array([q for q, _ in chosen])
        quality = {"min": int(qualities.min()), "median": float(np.median(qualities)), "max": int(qualities.max())}
        smallest = float(np.mean([s for _, s in chosen]))
        rows.append(_score(name, ", ".join(dtypes), float(np.mean([len(b) for b in blobs])), _decoded(blobs, images),
                           images, quality=quality, smallest_share=smallest))
    return rows


def _curve_point(name: str, quality: int, files: list[dict[int, bytes]], images: _Images) -> dict[str, float]:
    blobs = [sweep[quality] for sweep in files]
    row = _score(name, "", float(np.mean([len(b) for b in blobs])), _decoded(blobs, images), images)
    return {"quality": quality, "bytes_per_image": row.bytes_per_image, "bpp": row.bpp, "psnr": row.psnr, "ssim": row.ssim}
