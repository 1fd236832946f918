"""K-means and t-SNE beside scikit-learn, and the space evaluation on the digits sample set.

Prints one JSON document. Run (the full benchmark: 4 minutes on 2 cores, 13 while other jobs
saturate them)::

    .venv/bin/python bench/cluster.py

and smaller runs with ``--n``, ``--k``, ``--tsne-n``, ``--skip-digits``, ...; k-means at scale
beside scikit-learn's ``MiniBatchKMeans`` and FAISS's ``Kmeans`` with ``--peers``
(``--n 10000000 --k 1000``, see :func:`kmeans_peers`):

    .venv/bin/python bench/cluster.py --n 100000 --k 20 --tsne-n 2000 --digits-epochs 5

K-means: ``--n`` generated clustered vectors of ``--d`` numbers into ``--k``
clusters, our :class:`~latentatlas.cluster.kmeans.KMeans` (FAISS engine, greedy
k-means++ seeds drawn from 256 rows per cluster, its default) beside
scikit-learn's ``KMeans`` (greedy k-means++ seeding on all rows), both with
``--restarts`` restarts and exactly ``--iters`` Lloyd iterations
(``tol=0``), inertia of both; and ours again seeding on all rows, as
scikit-learn does (``init_size="all"``). The three run side by side
in ``--repeats`` rounds, each round with its own seed; the fastest round of
each is its time (every round is listed), the mean its inertia. t-SNE: ``--tsne-n`` of those vectors, reduced to 50 dimensions by PCA,
with openTSNE (our :class:`~latentatlas.space.projection.Projection`) beside
scikit-learn's ``TSNE``, both running 250 early-exaggeration iterations and
``--tsne-iters`` more, on all cores. Digits: the sample set exported,
``build`` with ``--digits-code-size``, ``--digits-epochs`` and
``--digits-corrupt`` (default ``noise:0.3``: a denoising autoencoder, whose
codes separate the classes better than a plain one's), for
``--digits-seeds`` seeds, then ``evaluate space``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

EXAGGERATION_ITERS = 250  # openTSNE's and scikit-learn's default


def clustered(n: int, d: int, k: int, seed: int) -> np.ndarray:
    """``n`` points around ``k`` Gaussian centres of varied spread, float32."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 4.0
    spread = rng.uniform(0.5, 2.0, size=k)
    members = rng.integers(k, size=n)
    points = rng.standard_normal((n, d), dtype=np.float32) * spread[members, None].astype(np.float32)
    points += centres[members].astype(np.float32)
    return points


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def kmeans(args) -> dict:
    """``--repeats`` rounds of ours, ours seeding on all rows and scikit-learn's, side by side, seeds ``seed + round``.

    Times are the fastest round (what the machine does undisturbed; each round's are listed), inertia the mean.
    """
    from sklearn.cluster import KMeans as SklearnKMeans

    from latentatlas.cluster.kmeans import SEED_ROWS_PER_CLUSTER, KMeans

    X = clustered(args.n, args.d, args.k, args.seed)
    contenders = {
        "ours": lambda seed: KMeans(args.k, n_init=args.restarts, max_iter=args.iters, tol=0.0, random_state=seed),
        "all_rows": lambda seed: KMeans(args.k, n_init=args.restarts, max_iter=args.iters, tol=0.0, init_size="all",
                                        random_state=seed),
        "sklearn": lambda seed: SklearnKMeans(args.k, n_init=args.restarts, max_iter=args.iters, tol=0.0,
                                              random_state=seed),
    }
    runs: dict[str, dict[str, list]] = {name: {"s": [], "inertia": [], "iterations": []} for name in contenders}
    for round_ in range(args.repeats):
        for name, make in contenders.items():
            model, seconds = timed(lambda: make(args.seed + round_).fit(X))
            runs[name]["s"].append(round(seconds, 2))
            runs[name]["inertia"].append(float(model.inertia_))
            runs[name]["iterations"].append(int(model.n_iter_))
    fastest = {name: min(run["s"]) for name, run in runs.items()}
    inertia = {name: float(np.mean(run["inertia"])) for name, run in runs.items()}
    ratios = [theirs / ours for theirs, ours in zip(runs["sklearn"]["s"], runs["ours"]["s"])]
    return {
        "kmeans_ours_s": fastest["ours"], "kmeans_sklearn_s": fastest["sklearn"],
        "kmeans_ours_inertia": inertia["ours"], "kmeans_sklearn_inertia": inertia["sklearn"],
        "kmeans_speedup": round(fastest["sklearn"] / fastest["ours"], 2),
        "kmeans_speedup_median_round": round(float(np.median(ratios)), 2),
        "kmeans_ours_seeding_rows": min(SEED_ROWS_PER_CLUSTER * args.k, args.n),
        "kmeans_ours_all_rows_seeding_s": fastest["all_rows"],
        "kmeans_ours_all_rows_seeding_inertia": inertia["all_rows"],
        "kmeans_all_rows_seeding_speedup": round(fastest["sklearn"] / fastest["all_rows"], 2),
        "kmeans_rounds": runs,
    }


def inertia(X: np.ndarray, centres: np.ndarray) -> float:
    """Sum of squared distances of the rows of ``X`` to their nearest of ``centres`` (one FAISS scan, the same for all)."""
    import faiss

    index = faiss.IndexFlatL2(X.shape[1])
    index.add(np.ascontiguousarray(centres, np.float32))
    total = 0.0
    for start in range(0, len(X), 1_000_000):
        distances, _ = index.search(X[start:start + 1_000_000], 1)
        total += float(distances.sum(dtype=np.float64))
    return total


def kmeans_peers(args) -> dict:
    """Ours beside scikit-learn's ``MiniBatchKMeans`` and FAISS's ``Kmeans``, each with its defaults, one round, seed ``--seed``.

    Ours: greedy k-means++ seeds from 256 rows per cluster, ``--iters`` Lloyd
    iterations over every row. FAISS: ``--iters`` iterations on its default
    sample (256 rows per cluster). scikit-learn: batches of 1,024 until its
    own stopping rule. Inertia over every row for all three (not timed).
    """
    import faiss
    from sklearn.cluster import MiniBatchKMeans

    from latentatlas.cluster.kmeans import KMeans

    X = clustered(args.n, args.d, args.k, args.seed)
    result: dict = {"n": args.n, "d": args.d, "k": args.k, "iters": args.iters}
    model, seconds = timed(lambda: KMeans(args.k, n_init=1, max_iter=args.iters, tol=0.0, random_state=args.seed).fit(X))
    result["ours"] = {"s": round(seconds, 2), "inertia": inertia(X, model.cluster_centers_)}
    del model
    clusterer = faiss.Kmeans(args.d, args.k, niter=args.iters, seed=args.seed)
    _, seconds = timed(lambda: clusterer.train(X))
    result["faiss"] = {"s": round(seconds, 2), "inertia": inertia(X, clusterer.centroids)}
    minibatch, seconds = timed(lambda: MiniBatchKMeans(args.k, n_init=1, random_state=args.seed, compute_labels=False).fit(X))
    result["sklearn_minibatch"] = {"s": round(seconds, 2), "inertia": inertia(X, minibatch.cluster_centers_),
                                   "steps": int(minibatch.n_steps_)}
    result["sklearn_kmeans"] = ("not run: Lloyd over every row, k-means++ seeding on every row "
                                f"({args.n:,} x {args.k:,} distances a step); minutes per iteration here")
    return result


def tsne(args) -> dict:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    from latentatlas.space.projection import Projection

    X = clustered(args.tsne_n, args.d, 20, args.seed + 1)
    ours, ours_s = timed(lambda: Projection("tsne", n_iter=args.tsne_iters, random_state=args.seed).fit(X))

    def sklearn_tsne():
        reduced = PCA(50, random_state=args.seed).fit_transform(X)
        return TSNE(max_iter=EXAGGERATION_ITERS + args.tsne_iters, random_state=args.seed).fit(reduced)

    theirs, theirs_s = timed(sklearn_tsne)
    return {
        "tsne_opentsne_s": round(ours_s, 2), "tsne_sklearn_s": round(theirs_s, 2),
        "tsne_speedup": round(theirs_s / ours_s, 2),
        "tsne_kl_divergence": {"opentsne": float(ours.model_.kl_divergence), "sklearn": float(theirs.kl_divergence_)},
    }


def digits(args) -> dict:
    """``build`` on the digits sample set with each of ``--digits-seeds`` seeds, then ``evaluate space``.

    ``space`` is the table of the first seed; ``codes_lda_precision`` lists every seed's (the split is the same).
    """
    import torch

    from latentatlas import Atlas
    from latentatlas.datasets.samples import export_sample
    from latentatlas.threads import idle_cores

    torch.set_num_threads(idle_cores())
    corrupt = [args.digits_corrupt] if args.digits_corrupt else []
    tables, build_s = [], []
    with tempfile.TemporaryDirectory() as folder:
        data, _ = export_sample("digits", Path(folder) / "digits")
        for seed in range(args.seed, args.seed + args.digits_seeds):
            with Atlas.open(Path(folder) / f"digits-{seed}.atlas") as atlas:
                _, seconds = timed(lambda: atlas.build(data, code_size=args.digits_code_size, epochs=args.digits_epochs,
                                                       corrupt=corrupt, seed=seed))
                tables.append(atlas.evaluate_space(seed=args.seed).to_dict()["rows"])
                build_s.append(round(seconds, 1))
    precision = [{row["representation"]: row["precision"] for row in table} for table in tables]
    return {"space": tables[0], "digits_build_s": build_s,
            "codes_lda_precision": [p["codes_lda"] for p in precision], "lda_precision": precision[0]["lda"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="k-means rows")
    parser.add_argument("--d", type=int, default=64, help="numbers per row")
    parser.add_argument("--k", type=int, default=100, help="k-means clusters")
    parser.add_argument("--iters", type=int, default=20, help="Lloyd iterations, the same for both")
    parser.add_argument("--restarts", type=int, default=1, help="k-means++ restarts, the same for both")
    parser.add_argument("--repeats", type=int, default=3, help="k-means rounds, each with its own seed")
    parser.add_argument("--tsne-n", type=int, default=20_000, help="t-SNE rows")
    parser.add_argument("--tsne-iters", type=int, default=250, help="t-SNE iterations after early exaggeration")
    parser.add_argument("--digits-code-size", type=int, default=32)
    parser.add_argument("--digits-epochs", type=int, default=30)
    parser.add_argument("--digits-corrupt", default="noise:0.3", help="build --corrupt for the digits ('' for none)")
    parser.add_argument("--digits-seeds", type=int, default=3, help="digits builds, each with its own seed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-kmeans", action="store_true")
    parser.add_argument("--skip-tsne", action="store_true")
    parser.add_argument("--skip-digits", action="store_true")
    parser.add_argument("--peers", action="store_true",
                        help="only k-means: ours, scikit-learn's MiniBatchKMeans and FAISS's Kmeans, one round")
    args = parser.parse_args()
    if args.peers:
        print(json.dumps({"kmeans_peers": kmeans_peers(args)}, indent=2))
        return

    result: dict = {}
    if not args.skip_kmeans:
        result.update(kmeans(args))
    if not args.skip_tsne:
        result.update(tsne(args))
    if not args.skip_digits:
        result.update(digits(args))
    result["settings"] = {k: v for k, v in vars(args).items() if not k.startswith("skip")}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
