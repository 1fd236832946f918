"""K-means: planted clusters, seeds, the estimator contract, bad parameters."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import check_estimator

from latentatlas import UsageError
from latentatlas.cluster.kmeans import KMeans, assign


def planted(rng, k=6, per=50, d=8, spread=20.0):
    centres = rng.normal(size=(k, d)) * spread
    truth = np.repeat(np.arange(k), per)
    X = centres[truth] + rng.normal(size=(len(truth), d))
    order = rng.permutation(len(truth))
    return X[order].astype(np.float32), truth[order]


@pytest.mark.parametrize("engine", ["faiss", "sklearn"])
def test_finds_planted_clusters_exactly(rng, engine):
    X, truth = planted(rng)
    model = KMeans(6, engine=engine, random_state=0).fit(X)
    assert adjusted_rand_score(truth, model.labels_) == 1.0
    assert model.cluster_centers_.shape == (6, 8) and model.cluster_centers_.dtype == np.float32
    assert np.array_equal(model.predict(X), model.labels_)
    assert np.array_equal(model.transform(X).argmin(axis=1), model.labels_)
    assert model.score(X) == pytest.approx(-model.inertia_, rel=1e-5)


@pytest.mark.parametrize("engine", ["faiss", "sklearn"])
def test_a_seed_gives_the_same_result(rng, engine):
    X = rng.normal(size=(400, 5)).astype(np.float32)  # no structure: the seeds decide
    first = KMeans(7, engine=engine, n_init=2, random_state=3).fit(X)
    again = KMeans(7, engine=engine, n_init=2, random_state=3).fit(X)
    other = KMeans(7, engine=engine, n_init=1, random_state=4).fit(X)
    assert np.array_equal(first.labels_, again.labels_)
    assert np.array_equal(first.cluster_centers_, again.cluster_centers_)
    assert first.inertia_ == again.inertia_
    assert not np.array_equal(first.cluster_centers_, other.cluster_centers_)


def test_engines_agree_from_the_same_seeds(rng):
    X, _ = planted(rng, k=4, spread=3.0)
    ours = KMeans(4, engine="faiss", n_init=1, tol=0, max_iter=100, random_state=0).fit(X)
    theirs = KMeans(4, engine="sklearn", n_init=1, tol=0, max_iter=100, random_state=0).fit(X)
    assert adjusted_rand_score(ours.labels_, theirs.labels_) == 1.0
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-4)


def test_restarts_keep_the_lowest_inertia(rng):
    X = rng.normal(size=(300, 4)).astype(np.float32)
    single = [KMeans(9, n_init=1, random_state=s).fit(X).inertia_ for s in range(3)]
    assert KMeans(9, n_init=6, random_state=0).fit(X).inertia_ <= min(single) * 1.01


def test_assign_is_the_exact_nearest_centre(rng):
    X = rng.normal(size=(500, 6)).astype(np.float32)
    centres = rng.normal(size=(5, 6)).astype(np.float32)
    labels, squared = assign(X, centres)
    full = ((X[:, None, :] - centres[None]) ** 2).sum(axis=2)
    assert np.array_equal(labels, full.argmin(axis=1))
    assert np.allclose(squared, full.min(axis=1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("params, message", [
    ({"n_clusters": 0}, "n_clusters must be an integer >= 1, got 0"),
    ({"n_init": 0}, "n_init must be an integer >= 1"),
    ({"max_iter": 2.5}, "max_iter must be an integer >= 1"),
    ({"tol": -1}, "tol must be a number >= 0"),
    ({"engine": "cuda"}, "engine must be one of faiss, sklearn, got 'cuda'"),
    ({"init_size": 0}, "init-size must be 'auto', 'all' or an integer >= 1, got 0"),
    ({"init_size": "half"}, "init-size must be 'auto', 'all' or an integer >= 1, got 'half'"),
    ({"n_clusters": 50}, "n_samples=20 should be >= n_clusters=50"),
])
def test_bad_parameters_are_named(rng, params, message):
    with pytest.raises(UsageError, match=message):
        KMeans(**params).fit(rng.normal(size=(20, 3)))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_follows_the_scikit_learn_estimator_contract():
    check_estimator(KMeans(n_clusters=3, random_state=0))


@pytest.mark.parametrize("init_size, rows", [("auto", 512), ("all", 600), (1, 2), (5000, 600)])
def test_seeding_rows(init_size, rows):
    assert KMeans(2, init_size=init_size)._init_size(600) == rows  # auto: 256 per cluster


def test_sampled_and_full_seeding_both_find_planted_clusters(rng):
    X, truth = planted(rng, k=3, per=400)
    for init_size in ("auto", "all", 30):
        assert adjusted_rand_score(truth, KMeans(3, init_size=init_size, random_state=0).fit(X).labels_) == 1.0

