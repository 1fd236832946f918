"""Features: store ORB keypoints per image in the atlas, and find copies of a query by verified matches.

The table ``orb_features(id, width, height, keypoints BLOB, descriptors
BLOB)`` holds each image's keypoints (float32 x, y, size, angle) and
descriptors (32 bytes each); the extraction settings are kept in
``settings`` so that queries are described the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..errors import UsageError
from ..progress import ProgressCallback, silent
from ..search.orb import DESCRIPTOR_BYTES, Features, OrbSettings, draw_matches, extract, match
from ..sources import Failure, read_image, write_image
from ..store.database import Store
from ..store.schema import ORB_FEATURES, ORB_SETTING, ORB_TABLE
from .rows import RowReader, read_pixels, read_row

if TYPE_CHECKING:
    from ..models import LatentModel

__all__ = [
    "OrbSettings", "FeatureHit", "FeaturesResult", "FeaturesIndexReport", "index_features", "features_search",
]

TABLE = ORB_FEATURES
SETTINGS_KEY = ORB_SETTING
_BATCH = 64


@dataclass
class FeaturesIndexReport:
    """What :func:`index_features` did."""

    indexed: int = 0
    skipped: int = 0
    keypoints: int = 0
    failures: list[Failure] = field(default_factory=list)
    total: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {**asdict(self), "failures": [{"uri": f.uri, "reason": f.reason} for f in self.failures]}


@dataclass
class FeatureHit:
    """A stored image that matched the query, with its inlier and match counts."""

    id: int
    uri: str
    label: str | None
    time: datetime | None
    inliers: int
    matches: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (time as ISO 8601)."""
        return {**asdict(self), "time": self.time.isoformat() if self.time else None}


@dataclass
class FeaturesResult:
    """The query, the settings and the verified matches, most inliers first.

    ``hits`` holds only candidates with at least ``min_inliers`` inliers;
    when none has, there is no match and ``best`` is the candidate that
    came nearest (None when nothing matched at all).
    """

    query: dict[str, Any]
    hits: list[FeatureHit]
    best: FeatureHit | None = None
    out: Path | None = None

    @property
    def matched(self) -> bool:
        """Whether any stored image has enough inliers to be a copy of the query."""
        return bool(self.hits)

    def to_dict(self) -> dict[str, Any]:
        """``{"query", "match", "results": [{"id", "uri", "label", "time", "inliers", "matches"}], "best", "out"}``.

        ``best`` is the nearest candidate of a search without a match.
        """
        return {"query": self.query, "match": self.matched, "results": [h.to_dict() for h in self.hits],
                "best": None if self.best is None else self.best.to_dict(), "out": str(self.out) if self.out else None}

    def no_match_line(self) -> str:
        """The sentence that says a search found no copy, and how near the best candidate came."""
        threshold = self.query["min_inliers"]
        if self.best is None:
            return f"No match: no stored image shares a verified match with the query (--min-inliers {threshold})."
        return (f"No match: the best candidate, id {self.best.id}, has {self.best.inliers} inliers, fewer than "
                f"--min-inliers {threshold}, as chance gives.")


def index_features(store: Store, settings: OrbSettings | None = None, where: str | None = None,
                   rebuild: bool = False, progress: ProgressCallback = silent) -> FeaturesIndexReport:
    """Extract and store ORB features of every image (matching ``where``) that has none yet.

    Raises
    ------
    UsageError
        If features were stored with other extraction settings (pass ``rebuild``).
    """
    settings = settings or OrbSettings()
    store.con.execute(ORB_TABLE)
    stored = store.setting(SETTINGS_KEY)
    if rebuild:
        store.con.execute(f"DELETE FROM {TABLE}")
    elif stored is not None and stored != settings.extraction() and store.count(TABLE):
        raise UsageError(f"features were stored with {stored}; pass rebuild to replace them with {settings.extraction()}",
                         parameter="rebuild")
    store.set_setting(SETTINGS_KEY, settings.extraction())
    allowed = "" if where is None else f"AND id IN (SELECT id FROM images WHERE ({where}))"
    if where is not None:
        store.ids_where(where)  # checks the predicate
    todo = store.con.execute(
        f"SELECT id FROM images WHERE id NOT IN (SELECT id FROM {TABLE}) {allowed} ORDER BY id").fetchall()
    report = FeaturesIndexReport(skipped=store.count(TABLE))
    progress("features", 0, len(todo))
    reader = RowReader(store)
    for start in range(0, len(todo), _BATCH):
        pixels = read_pixels(store, [id for id, in todo[start:start + _BATCH]], reader)
        report.failures += pixels.failures
        rows = []
        for id, image in zip(pixels.ids.tolist(), pixels.images):
            features = extract(image, settings)
            rows.append((id, features.width, features.height, features.keypoints.tobytes(), features.descriptors.tobytes()))
            report.keypoints += len(features)
        with store.transaction():
            store.con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?)", rows)
        report.indexed += len(rows)
        progress("features", min(start + _BATCH, len(todo)), len(todo), failed=len(report.failures))
    report.total = store.count(TABLE)
    return report


def features_search(
    store: Store,
    image: str | Path | np.ndarray,
    k: int = 5,
    settings: OrbSettings | None = None,
    candidates: int | None = None,
    model: Callable[[], "LatentModel"] | None = None,
    out: str | Path | None = None,
) -> FeaturesResult:
    """The stored images showing the same thing as ``image``, ranked by RANSAC inliers.

    Parameters
    ----------
    image : path or ndarray
        The query picture.
    candidates : int, optional
        Match only the images nearest by embedding (needs ``model``);
        default every image with features.
    out : path, optional
        Draw the query beside the best match, inlier matches joined by lines
        (nothing is drawn without a match).

    Candidates with fewer than ``settings.min_inliers`` inliers are not
    copies: a search whose best candidate has fewer finds no match (see
    :class:`FeaturesResult`).

    Raises
    ------
    UsageError
        If no features are stored, or ``k`` is below 1.
    """
    if k < 1:
        raise UsageError(f"k must be >= 1, got {k}")
    if not store.has_table(TABLE) or not store.count(TABLE):
        raise UsageError(f"{store.path}: no features stored (run `latentatlas features index` first)")
    settings = OrbSettings(**{**asdict(settings or OrbSettings()), **store.setting(SETTINGS_KEY, {})})
    pixels, name = (image, "<array>") if isinstance(image, np.ndarray) else (read_image(image), str(Path(image).resolve()))
    query = extract(pixels, settings)
    chosen = _preselect(store, pixels, candidates, model)
    scored = []
    for id, features in _stored(store, chosen):
        found = match(query, features, settings)
        if found.inlier_count:
            scored.append((-found.inlier_count, -len(found.pairs), id, found, features))
    scored.sort(key=lambda item: item[:3])
    best = [item for item in scored[:k] if item[3].inlier_count >= settings.min_inliers]
    info = store.images([item[2] for item in scored[:max(1, len(best))]])
    hits = [_hit(info, id, found) for _, _, id, found, _ in best]
    settings_used = {"image": name, "k": k, "keypoints": len(query), "candidates": candidates,
                     "ratio": settings.ratio, "transform": settings.transform, "min_inliers": settings.min_inliers}
    result = FeaturesResult(settings_used, hits, None if best or not scored else _hit(info, scored[0][2], scored[0][3]))
    if out is not None and best:
        _, _, id, found, features = best[0]
        drawn = draw_matches(pixels, query, read_row(store, id), features, found)
        result.out = write_image(out, drawn)
    return result


def _hit(info: dict[int, dict], id: int, found) -> FeatureHit:
    return FeatureHit(id, info[id]["uri"], info[id]["label"], info[id]["time"], found.inlier_count, len(found.pairs))


def _preselect(store: Store, pixels: np.ndarray, candidates: int | None,
               model: Callable[[], "LatentModel"] | None) -> np.ndarray | None:
    """Ids of the ``candidates`` rows nearest by embedding, or None for all."""
    if candidates is None:
        return None
    if candidates < 1:
        raise UsageError(f"candidates must be >= 1, got {candidates}")
    if model is None:
        raise UsageError("choosing candidates by embedding needs the atlas's model")
    from ..search.engine import EngineCache
    from ..search.neighbours import nearest
    from .embed import check_model_matches

    encoder = model()
    check_model_matches(store, encoder)
    engine = EngineCache().get(store, "l2")
    ids, _ = nearest(engine, encoder.encode([pixels]), candidates, "l2")
    return np.sort(ids[0][ids[0] >= 0])


def _stored(store: Store, ids: np.ndarray | None):
    """``(id, Features)`` of the stored rows (of ``ids`` if given)."""
    sql = f"SELECT id, width, height, keypoints, descriptors FROM {TABLE}"
    if ids is not None:
        sql += f" WHERE id IN ({', '.join(str(int(i)) for i in ids)})" if len(ids) else " WHERE false"
    result = store.con.execute(sql + " ORDER BY id")
    while rows := result.fetchmany(256):
        for id, width, height, keypoints, descriptors in rows:
            yield id, Features(
                np.frombuffer(keypoints, np.float32).reshape(-1, 4),
                np.frombuffer(descriptors, np.uint8).reshape(-1, DESCRIPTOR_BYTES), height, width,
            )
