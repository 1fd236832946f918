"""Projections: shapes, LDA's need for labels, the estimator contract."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import check_estimator

from latentatlas import UsageError
from latentatlas.space.projection import Projection


@pytest.fixture()
def labelled(rng):
    y = np.repeat(np.array(["a", "b", "c", "d"]), 40)
    X = rng.normal(size=(len(y), 60)) + np.repeat(np.eye(4, 60) * 8, 40, axis=0)
    return X.astype(np.float32), y


@pytest.mark.parametrize("method, dims", [("pca", 2), ("pca", 3), ("tsne", 2), ("tsne", 3), ("lda", 2), ("lda", 3)])
def test_projections_have_the_right_shape(labelled, method, dims):
    X, y = labelled
    projection = Projection(method, dims, random_state=0)
    coords = projection.fit_transform(X, y)
    assert coords.shape == (len(X), dims) and coords.dtype == np.float32 and np.isfinite(coords).all()
    assert projection.transform(X[:7]).shape == (7, dims)


def test_tsne_runs_after_pca_to_50_dims(labelled):
    X, _ = labelled
    projection = Projection("tsne", random_state=0).fit(X)
    assert projection.pca_.n_components_ == 50
    assert Projection("pca", 5).fit(X[:, :5]).pca_ is None


def test_umap_has_the_right_shape(labelled):
    X, _ = labelled
    assert Projection("umap", 2, random_state=0).fit_transform(X).shape == (len(X), 2)


def test_lda_separates_classes_and_needs_labels(labelled):
    X, y = labelled
    coords = Projection("lda", 2).fit_transform(X, y)
    centres = np.array([coords[y == c].mean(axis=0) for c in "abcd"])
    spread = max(coords[y == c].std(axis=0).max() for c in "abcd")
    assert min(np.linalg.norm(centres[i] - centres[j]) for i in range(4) for j in range(i)) > 3 * spread
    with pytest.raises(UsageError, match="LDA needs labels"):
        Projection("lda").fit(X)
    with pytest.raises(UsageError, match=r"at most classes - 1 = 3 dimensions \(4 classes\), not 4"):
        Projection("lda", 4).fit(X, y)


@pytest.mark.parametrize("params, message", [
    ({"method": "mds"}, "method must be one of pca, tsne, umap, lda, got 'mds'"),
    ({"n_components": 0}, "n_components must be an integer >= 1"),
    ({"n_components": 70}, "PCA to 70 dimensions needs rows of at least that many numbers"),
])
def test_bad_parameters_are_named(labelled, params, message):
    with pytest.raises(UsageError, match=message):
        Projection(**params).fit(labelled[0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
def test_follows_the_scikit_learn_estimator_contract():
    check_estimator(Projection("pca", random_state=0))
