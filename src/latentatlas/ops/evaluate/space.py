"""Evaluate space: our codes against raw pixels, PCA and LDA on how they separate known classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ...checks import at_least
from ...errors import UsageError
from ...models import LatentModel
from ...progress import ProgressCallback, silent
from ...sources import Failure
from ...space.projection import Projection
from ...space.scores import ClassScores, natural_order, score_representation
from ...store.database import Store
from ..embed import check_model_matches
from ..rows import column_of, read_pixels

__all__ = ["SpaceSettings", "SpaceReport", "evaluate_space", "REPRESENTATIONS"]

REPRESENTATIONS = ("raw", "pca", "lda2", "lda", "codes", "codes_lda")


@dataclass(frozen=True, kw_only=True)
class SpaceSettings:
    """How to evaluate.

    Parameters
    ----------
    label_column : str
        Column (or SQL expression) of ``images`` holding the class; rows
        where it is NULL are left out.
    test_fraction : float
        Share of each class held out (stratified split).
    knn : int
        Neighbours of the kNN classifier.
    seed : int
        Seeds the split.
    where : str or None
        SQL predicate on ``images``: only matching rows are evaluated.

    Raises
    ------
    UsageError
        Naming the parameter, on a test fraction outside (0, 1) or ``knn < 1``.
    """

    label_column: str = "label"
    test_fraction: float = 0.3
    knn: int = 5
    seed: int = 0
    where: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.test_fraction < 1.0:
            raise UsageError(f"test_fraction must be between 0 and 1, got {self.test_fraction}", parameter="test_fraction")
        at_least(1)("knn", self.knn)


@dataclass
class SpaceReport:
    """Scores per representation, in the order of :data:`REPRESENTATIONS`."""

    scores: dict[str, ClassScores]
    train: int
    test: int
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"rows": [{"representation", "precision", "recall", "f1", "knn_accuracy", "top5_agreement", "map_at_10"}, ...],
        "per_class": {representation: {"dims", "classes", "precision", "recall", "f1", "support", "confusion"}}}``.
        """
        return {
            "rows": [{"representation": name, **scores.row()} for name, scores in self.scores.items()],
            "per_class": {name: scores.per_class() for name, scores in self.scores.items()},
        }


def evaluate_space(
    store: Store,
    model: LatentModel,
    settings: SpaceSettings = SpaceSettings(),
    progress: ProgressCallback = silent,
) -> SpaceReport:
    """Score raw pixels, PCA, LDA and our codes side by side on a held-out split.

    Raw pixels are the images read again from their uris through the
    model's preprocessing (so at the model's input size); PCA keeps as many
    dimensions as the code has; ``lda2`` and ``lda`` are LDA to 2 and to
    classes - 1 dimensions on raw pixels, ``codes_lda`` LDA on the codes.
    Every projection is fitted on the training split only. Rows whose image
    cannot be read any more are left out of every representation and
    reported.

    Raises
    ------
    UsageError
        On a bad setting or label column, fewer than two classes, or a
        class with fewer than two rows.
    """
    check_model_matches(store, model)
    ids, codes = store.vectors(store.ids_where(settings.where) if settings.where else None)
    try:
        labels = column_of(store, ids, f"({settings.label_column})::TEXT")
    except UsageError as error:
        raise UsageError(f"label_column {settings.label_column!r} is not usable: {error}",
                         parameter="label_column") from None
    labelled = np.array([v is not None for v in labels], bool)
    ids, codes, labels = ids[labelled], codes[labelled], labels[labelled].astype(str)

    progress("read", 0, len(ids))
    pixels = read_pixels(store, ids)
    progress("read", len(ids), len(ids))
    kept = np.isin(ids, pixels.ids)
    codes, labels = codes[kept], labels[kept]
    position = {int(i): n for n, i in enumerate(pixels.ids)}
    order = [position[int(i)] for i in ids[kept]]
    raw = model.prepare([pixels.images[n] for n in order]).reshape(len(order), -1)
    train, test, classes = _split(labels, settings)

    lda = len(classes) - 1
    pca = min(codes.shape[1], raw.shape[1], len(train) - 1)
    makers: dict[str, tuple[np.ndarray, Callable[[], Projection] | None]] = {
        "raw": (raw, None),
        "pca": (raw, lambda: Projection("pca", pca, random_state=settings.seed)),
        "lda2": (raw, lambda: Projection("lda", min(2, lda))),
        "lda": (raw, lambda: Projection("lda", lda)),
        "codes": (codes, None),
        "codes_lda": (codes, lambda: Projection("lda", lda)),
    }
    scores = {}
    progress("evaluate", 0, len(makers))
    for done, (name, (data, make)) in enumerate(makers.items(), start=1):
        train_x, test_x = data[train], data[test]
        if make is not None:
            projection = make().fit(train_x, labels[train])
            train_x, test_x = projection.embedding_, projection.transform(test_x)
        scores[name] = score_representation(train_x, labels[train], test_x, labels[test], classes, settings.knn)
        progress("evaluate", done, len(makers))
    return SpaceReport(scores, len(train), len(test), pixels.failures)


def _split(labels: np.ndarray, settings: SpaceSettings) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Stratified train and test positions, and the classes in natural order."""
    from sklearn.model_selection import train_test_split

    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise UsageError(f"evaluating the space needs labelled rows of at least 2 classes, found {len(classes)}")
    if counts.min() < 2:
        raise UsageError(f"every class needs at least 2 labelled rows for a held-out split; "
                         f"{classes[counts.argmin()]!r} has {counts.min()}")
    positions = np.arange(len(labels))
    try:
        train, test = train_test_split(positions, test_size=settings.test_fraction, stratify=labels,
                                       random_state=settings.seed)
    except ValueError as error:
        raise UsageError(f"cannot split {len(labels)} rows of {len(classes)} classes with test fraction "
                         f"{settings.test_fraction}: {error}") from None
    return np.sort(train), np.sort(test), natural_order(classes.tolist())
