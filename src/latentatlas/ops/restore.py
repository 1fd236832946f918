"""Restore: run the atlas's restoration model over images of any size and write the results.

Images are processed at their own pixel scale, never resized: values and
channels are mapped as the model's preprocessing says, images larger than
the model's input go through overlapping tiles blended with a smooth
window (:mod:`latentatlas.models.tiled`), and the result is written back in
the collection's units. A super-resolution model (trained with
``downsample:F``) first enlarges each image F times, as its training inputs
were, so its output is F times the size of its input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..checks import at_least
from ..errors import BadInputError, UsageError
from ..models import LatentModel
from ..models.corruptions import Downsample
from ..models.tiled import apply_tiled
from ..pipeline.runner import Batch, run_batches
from ..progress import ProgressCallback, silent
from ..sources import Failure, Record
from ..sources.images import IMAGE_SUFFIXES
from ..sources.loading import Loaded, transformed
from .codec import named_records
from .decode import save_decoded

__all__ = ["RestoreSettings", "RestoreReport", "restore", "upscale_factor"]

_IMAGES_PER_READ = 16


@dataclass(frozen=True, kw_only=True)
class RestoreSettings:
    """How :func:`restore` runs and writes.

    Parameters
    ----------
    stride : int, optional
        Step between tiles in pixels (default: half the model's input size).
    batch_size : int, default 64
        Tiles run through the network at once.
    format : str, optional
        Suffix of the written files (``png``, ``tif``, ``npy``, ...);
        default the input's own (``npy`` for items of array stacks and fields).
    upscale : bool, default True
        Enlarge the inputs of a super-resolution model by its factor first;
        off when the images are already at the output size.
    """

    stride: int | None = None
    batch_size: int = 64
    format: str | None = None
    upscale: bool = True

    def __post_init__(self) -> None:
        at_least(1)("batch_size", self.batch_size)
        if self.stride is not None:
            at_least(1)("stride", self.stride)


@dataclass
class RestoreReport:
    """What :func:`restore` wrote."""

    out: Path
    corruption: str
    scale: int = 1
    files: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {"out": str(self.out), "images": len(self.files), "files": [str(f) for f in self.files],
                "corruption": self.corruption, "scale": self.scale,
                "failed": [{"uri": f.uri, "reason": f.reason} for f in self.failures]}


def upscale_factor(model: LatentModel, upscale: bool = True) -> int:
    """How many times :func:`restore` enlarges an input: the model's downsampling factor, or 1."""
    step = model.corruption.step("downsample")
    return step.factor if upscale and isinstance(step, Downsample) else 1


def restore(
    model: LatentModel,
    sources: Sequence[str | Path],
    out: str | Path,
    settings: RestoreSettings = RestoreSettings(),
    progress: ProgressCallback = silent,
) -> RestoreReport:
    """Restore every image of ``sources`` with ``model`` and write it under ``out``.

    Files mirror the sources' layout as ``compress`` names them
    (``out/<path below the folder>.<suffix>``). Unreadable images, and
    images whose channels the model cannot take, are skipped and reported.

    Raises
    ------
    UsageError
        When an output would overwrite its input or two images would get one name.
    BadInputError
        If no image could be restored (the first failure says why).
    """
    named, failures = named_records(sources, suffix="", verb="restore")
    targets = {record: Path(out) / f"{relative}.{_suffix(record, settings.format)}" for record, relative in named}
    for record, target in targets.items():
        if target.resolve() == Path(record.uri.partition("#")[0]).resolve():
            raise UsageError(f"{record.uri}: restoring it into {out} would overwrite it; choose another out folder",
                             parameter="out")
    report = RestoreReport(out=Path(out), corruption=str(model.corruption),
                           scale=upscale_factor(model, settings.upscale))

    def restore_each(loaded: Loaded, failures: list[Failure]) -> Batch:
        batch = Batch(outputs=[])
        for record, image, x in transformed(loaded, model.input_preprocessor.native, failures):
            if report.scale > 1:
                x = np.repeat(np.repeat(x, report.scale, axis=1), report.scale, axis=2)
            batch.records.append(record)
            batch.images.append(image)
            batch.outputs.append(model.preprocessor.inverse(apply_tiled(model, x, settings.stride, settings.batch_size,
                                                                        progress)))
        return batch

    def write(batch: Batch) -> int:
        for record, restored in zip(batch.records, batch.outputs):
            report.files.append(save_decoded(targets[record], restored, model.preprocess.value_range))
        return len(batch.records)

    run = run_batches([record for record, _ in named], restore_each, write, stage="restore",
                      batch_size=_IMAGES_PER_READ, progress=progress, failures=failures, nothing_done="restored")
    report.failures = run.failures
    return report


def _suffix(record: Record, chosen: str | None) -> str:
    if chosen:
        return chosen.lower().lstrip(".")
    file, _, item = record.uri.partition("#")
    suffix = Path(file).suffix.lower()
    return suffix.lstrip(".") if not item and suffix in IMAGE_SUFFIXES else "npy"
