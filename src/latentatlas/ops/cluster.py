"""Cluster: k-means++ on the stored codes, a stored run, and pictures of its clusters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import at_least, one_of
from ..cluster.kmeans import ENGINES, KMeans, check_init_size
from ..errors import UsageError
from ..models import LatentModel
from ..progress import ProgressCallback, silent
from ..sources import Failure
from ..store.clusters import ClusterRun, check_name, free_run_name, save_run
from ..store.database import Store
from .embed import check_model_matches, reader_options
from .rows import column_of, read_pixels

__all__ = ["ClusterSettings", "ClusterReport", "cluster", "CLUSTERS_DIR"]

CLUSTERS_DIR = "clusters"
SILHOUETTE_SAMPLE = 10_000


@dataclass(frozen=True, kw_only=True)
class ClusterSettings:
    """What to cluster and how.

    Parameters
    ----------
    k : int or None
        Number of clusters; None picks it by silhouette over ``k_range``.
    k_range : (int, int)
        Smallest and largest k tried when ``k`` is None.
    name : str or None
        Run name; None takes ``k<k>`` (or ``k<k>-2``, ... if taken).
    where : str or None
        SQL predicate on ``images``: only matching rows are clustered.
    engine : {"faiss", "sklearn"}
        What runs the Lloyd iterations.
    restarts, max_iter, seed
        K-means restarts (best inertia kept), iterations per restart, seed.
    init_size : int, "auto" or "all"
        Rows sampled for the k-means++ seeding (see :class:`~latentatlas.cluster.kmeans.KMeans`).
    members : int
        Members nearest the centre shown per cluster.
    replace : bool
        Overwrite a stored run of the same name.

    Raises
    ------
    UsageError
        Naming the parameter, on a value that cannot be used.
    """

    k: int | None = 5
    k_range: tuple[int, int] = (2, 12)
    name: str | None = None
    where: str | None = None
    engine: str = "faiss"
    restarts: int = 4
    max_iter: int = 50
    seed: int = 0
    init_size: int | str = "auto"
    members: int = 16
    replace: bool = False

    def __post_init__(self) -> None:
        if self.k is not None and self.k < 1:
            raise UsageError(f"k must be >= 1 or 'auto', got {self.k}", parameter="k")
        low, high = self.k_range
        if not 2 <= low <= high:
            raise UsageError(f"k_range must be LOW:HIGH with 2 <= LOW <= HIGH, got {low}:{high}", parameter="k_range")
        one_of(ENGINES)("engine", self.engine)
        check_init_size(self.init_size)
        for name in ("restarts", "max_iter", "members"):
            at_least(1)(name, getattr(self, name))


@dataclass
class ClusterReport:
    """A finished run: its name, sizes, scores, and where its pictures are."""

    run: str
    k: int
    rows: int
    sizes: list[int]
    inertia: float
    silhouette: float | None
    ari: float | None
    nmi: float | None
    curve: list[dict[str, float]] = field(default_factory=list)
    out: Path | None = None
    pictures: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form; ``curve`` is the silhouette curve of ``-k auto`` (else empty)."""
        data = asdict(self)
        data["out"] = str(self.out) if self.out else None
        data["pictures"] = [str(p) for p in self.pictures]
        data["failures"] = [{"uri": f.uri, "reason": f.reason} for f in self.failures]
        return data


def cluster(
    store: Store,
    model: LatentModel,
    settings: ClusterSettings = ClusterSettings(),
    out: str | Path | None = None,
    progress: ProgressCallback = silent,
) -> ClusterReport:
    """Cluster the stored codes with k-means++ and store the run.

    The run lands in the ``clusters`` and ``centroids`` tables in one
    transaction. Pictures go to ``out`` (default ``<atlas>/clusters/<run>``):
    ``centroids.png`` (the decoded centres), ``centroids.npy`` (them as
    arrays of the input's shape, in the collection's units),
    ``cluster_<c>.png`` (the members nearest each centre) and, when k is
    picked, ``silhouette.png``.

    Raises
    ------
    UsageError
        On a bad setting, a taken run name without ``replace``, or fewer
        matching rows than clusters.
    """
    if settings.name is not None:
        check_name(store, settings.name, settings.replace)
    check_model_matches(store, model)
    ids, codes = store.vectors(store.ids_where(settings.where) if settings.where else None)
    smallest = settings.k or settings.k_range[0]
    if len(ids) < smallest:
        matching = " match the where predicate" if settings.where else ""
        raise UsageError(f"{len(ids)} embedded rows{matching}; k-means into {smallest} clusters needs at least that many",
                         parameter="where")

    if settings.k is None:
        estimator, curve = _pick_k(codes, settings, progress)
    else:
        progress("k-means", 0, 1)
        estimator, curve = _kmeans(settings.k, settings).fit(codes), []
        progress("k-means", 1, 1)
    k = estimator.n_clusters
    labels = estimator.labels_
    distances = np.sqrt(np.maximum(np.sum((codes - estimator.cluster_centers_[labels]) ** 2, axis=1), 0.0))
    truth = column_of(store, ids, "label::TEXT")
    ari, nmi = _agreement(truth, labels)
    report = ClusterReport(
        run=settings.name or free_run_name(store, f"k{k}"), k=k, rows=len(ids),
        sizes=np.bincount(labels, minlength=k).tolist(), inertia=float(estimator.inertia_),
        silhouette=_silhouette(codes, labels, settings.seed), ari=ari, nmi=nmi, curve=curve,
    )
    info = {
        "k": k, "rows": len(ids), "where": settings.where, "engine": settings.engine,
        "restarts": settings.restarts, "max_iter": settings.max_iter, "seed": settings.seed, "init_size": settings.init_size,
        "inertia": report.inertia, "silhouette": report.silhouette, "ari": ari, "nmi": nmi,
        "model": model.fingerprint, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    save_run(store, ClusterRun(report.run, ids, labels, distances.astype(np.float32), estimator.cluster_centers_, info),
             replace=settings.replace)
    report.out = Path(out) if out is not None else store.path / CLUSTERS_DIR / report.run
    _pictures(store, model, report, ids, labels, distances, estimator.cluster_centers_, settings.members)
    return report


def _kmeans(k: int, settings: ClusterSettings) -> KMeans:
    return KMeans(k, n_init=settings.restarts, max_iter=settings.max_iter, engine=settings.engine,
                  init_size=settings.init_size, random_state=settings.seed)


def _pick_k(codes: np.ndarray, settings: ClusterSettings, progress: ProgressCallback) -> tuple[KMeans, list[dict]]:
    """The k of highest silhouette in the range (capped at n - 1), and the curve."""
    low, high = settings.k_range
    candidates = list(range(low, min(high, len(codes) - 1) + 1))
    if not candidates:
        raise UsageError(f"picking k needs at least {low + 1} rows, got {len(codes)}")
    curve, fitted = [], {}
    progress("k-auto", 0, len(candidates))
    for done, k in enumerate(candidates, start=1):
        fitted[k] = _kmeans(k, settings).fit(codes)
        score = _silhouette(codes, fitted[k].labels_, settings.seed)
        curve.append({"k": k, "silhouette": score, "inertia": float(fitted[k].inertia_)})
        progress("k-auto", done, len(candidates), k=k)
    best = max(curve, key=lambda point: (point["silhouette"] if point["silhouette"] is not None else -2.0))
    return fitted[best["k"]], curve


def _silhouette(codes: np.ndarray, labels: np.ndarray, seed: int) -> float | None:
    """Mean silhouette (on a seeded sample of 10,000 rows at most); None if undefined."""
    from sklearn.metrics import silhouette_score

    k = len(np.unique(labels))
    if not 2 <= k <= len(codes) - 1:
        return None
    sample = min(len(codes), SILHOUETTE_SAMPLE)
    return float(silhouette_score(codes, labels, sample_size=sample if sample < len(codes) else None, random_state=seed))


def _agreement(truth: np.ndarray, labels: np.ndarray) -> tuple[float | None, float | None]:
    """ARI and NMI against the rows that have a label; None when none has."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    known = np.array([t is not None for t in truth], bool)
    if not known.any():
        return None, None
    truth, labels = truth[known].astype(str), labels[known]
    return float(adjusted_rand_score(truth, labels)), float(normalized_mutual_info_score(truth, labels))


def _pictures(store: Store, model: LatentModel, report: ClusterReport, ids: np.ndarray, labels: np.ndarray,
              distances: np.ndarray, centers: np.ndarray, members: int) -> None:
    """Write the centroid mosaic, the centroid arrays, a member grid per cluster and the silhouette curve.

    Centroids of fields (radar) are drawn as dBZ maps on the atlas's grid,
    decoded at the grid's size, when the atlas knows where its fields lie.
    """
    from ..pictures.grids import REFLECTIVITY, captioned_rows, field_colours, grid, is_field, save_png, to_display
    from ..pictures.plots import silhouette_curve
    from .rows import atlas_geometry
    from .search_picture import placed

    out = report.out
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("cluster_*.png"):
        stale.unlink()
    value_range = model.preprocess.value_range
    geometry = atlas_geometry(store)
    decoded = model.decode_images(centers, None if geometry is None else [tuple(geometry.shape)] * len(centers))
    np.save(out / "centroids.npy", np.stack(decoded))
    starts = range(0, report.k, 10)
    rows = [decoded[i:i + 10] for i in starts]
    captions = [[f"{c} · {report.sizes[c]}" for c in range(i, min(i + 10, report.k))] for i in starts]
    style: dict = {"value_range": value_range}
    if is_field(decoded[0]):
        cmap, span = field_colours(REFLECTIVITY, reader_options(store).clip or value_range)
        style = {"cmap": cmap, "value_range": span, "colorbar": "dBZ",
                 "geometries": [[placed(geometry, image) for image in row] for row in rows]}
    mosaic = captioned_rows(rows, captions, **style)
    report.pictures = [save_png(mosaic, out / "centroids.png"), out / "centroids.npy"]
    nearest = [ids[labels == c][np.argsort(distances[labels == c], kind="stable")[:members]] for c in range(report.k)]
    pixels = read_pixels(store, np.concatenate(nearest))
    report.failures = pixels.failures
    images = dict(zip(pixels.ids.tolist(), pixels.images))
    width = len(str(report.k - 1))
    for c, chosen in enumerate(nearest):
        tiles = [to_display(images[i], value_range) for i in chosen.tolist() if i in images]
        if tiles:
            path = out / f"cluster_{c:0{width}d}.png"
            report.pictures.append(save_png(grid(tiles, columns=min(8, len(tiles))), path))
    if report.curve:
        report.pictures.append(save_png(silhouette_curve(report.curve, report.k), out / "silhouette.png"))
