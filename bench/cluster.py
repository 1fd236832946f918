"""K-means and t-SNE beside scikit-learn, and the space evaluation on the digits sample set.

Prints one JSON document. Run (the full benchmark: 4 minutes on 2 cores, 13 while other jobs
saturate them)::

    .venv/bin/python bench/cluster.py

and smaller runs with ``--n``, ``--k``, ``--tsne-n``, ``--skip-digits``, ...:

    .venv/bin/python bench/cluster.py --n 100000 --k 20 --tsne-n 2000 --digits-epochs 5

K-means: ``--n`` generated clustered vectors of ``--d`` numbers into ``--k``
clusters, our :class:`~latentatlas.kmeans.KMeans` (FAISS engine) beside
scikit-learn's ``KMeans``, both with greedy k-means++ seeding on all rows,
``--restarts`` restarts and exactly ``--iters`` Lloyd iterations
(``tol=0``), inertia of both; and ours again with the seeds drawn from a
sample of 256 rows per cluster (``init_size``). t-SNE: ``--tsne-n`` of those vectors, reduced to 50 dimensions by PCA,
with openTSNE (our :class:`~latentatlas.projection.Projection`) beside
scikit-learn's ``TSNE``, both running 250 early-exaggeration iterations and
``--tsne-iters`` more, on all cores. Digits: the sample set exported,
``build`` with ``--digits-code-size`` and ``--digits-epochs``, then
``evaluate space``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

EXAGGERATION_ITERS = 250  # openTSNE's and scikit-learn's default
SEED_ROWS_PER_CLUSTER = 256  # the sampled-seeding variant: FAISS's rule for the rows it trains on


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
    from sklearn.cluster import KMeans as SklearnKMeans

    from latentatlas.kmeans import KMeans

    X = clustered(args.n, args.d, args.k, args.seed)
    ours, ours_s = timed(lambda: KMeans(args.k, n_init=args.restarts, max_iter=args.iters, tol=0.0,
                                        random_state=args.seed).fit(X))
    sample = SEED_ROWS_PER_CLUSTER * args.k
    sampled, sampled_s = timed(lambda: KMeans(args.k, n_init=args.restarts, max_iter=args.iters, tol=0.0,
                                              init_size=sample, random_state=args.seed).fit(X))
    theirs, theirs_s = timed(lambda: SklearnKMeans(args.k, n_init=args.restarts, max_iter=args.iters, tol=0.0,
                                                   random_state=args.seed).fit(X))
    return {
        "kmeans_ours_s": round(ours_s, 2), "kmeans_sklearn_s": round(theirs_s, 2),
        "kmeans_ours_inertia": float(ours.inertia_), "kmeans_sklearn_inertia": float(theirs.inertia_),
        "kmeans_speedup": round(theirs_s / ours_s, 2),
        "kmeans_ours_sampled_seeding_s": round(sampled_s, 2), "kmeans_ours_sampled_seeding_inertia": float(sampled.inertia_),
        "kmeans_sampled_seeding_rows": min(sample, args.n), "kmeans_sampled_seeding_speedup": round(theirs_s / sampled_s, 2),
        "kmeans_iterations": {"ours": int(ours.n_iter_), "sampled": int(sampled.n_iter_), "sklearn": int(theirs.n_iter_)},
    }


def tsne(args) -> dict:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    from latentatlas.projection import Projection

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
    import torch

    from latentatlas import Atlas
    from latentatlas.sources.samples import export_sample
    from latentatlas.threads import idle_cores

    torch.set_num_threads(idle_cores())
    with tempfile.TemporaryDirectory() as folder:
        data, _ = export_sample("digits", Path(folder) / "digits")
        with Atlas.open(Path(folder) / "digits.atlas") as atlas:
            _, build_s = timed(lambda: atlas.build(data, code_size=args.digits_code_size, epochs=args.digits_epochs,
                                                   seed=args.seed))
            report, evaluate_s = timed(lambda: atlas.evaluate_space(seed=args.seed))
    return {"space": report.to_dict()["rows"], "digits_build_s": round(build_s, 1), "space_s": round(evaluate_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="k-means rows")
    parser.add_argument("--d", type=int, default=64, help="numbers per row")
    parser.add_argument("--k", type=int, default=100, help="k-means clusters")
    parser.add_argument("--iters", type=int, default=20, help="Lloyd iterations, the same for both")
    parser.add_argument("--restarts", type=int, default=1, help="k-means++ restarts, the same for both")
    parser.add_argument("--tsne-n", type=int, default=20_000, help="t-SNE rows")
    parser.add_argument("--tsne-iters", type=int, default=250, help="t-SNE iterations after early exaggeration")
    parser.add_argument("--digits-code-size", type=int, default=32)
    parser.add_argument("--digits-epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-kmeans", action="store_true")
    parser.add_argument("--skip-tsne", action="store_true")
    parser.add_argument("--skip-digits", action="store_true")
    args = parser.parse_args()

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
