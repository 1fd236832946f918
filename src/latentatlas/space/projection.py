"""Projections of codes to 2 or 3 dimensions (PCA, t-SNE, UMAP, LDA) as a scikit-learn estimator."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..errors import UsageError
from ..threads import idle_cores

__all__ = ["Projection", "METHODS"]

METHODS = ("pca", "tsne", "umap", "lda")
_MANY_ROWS = 10_000


class Projection(TransformerMixin, BaseEstimator):
    """Map rows to ``n_components`` numbers for a picture of the space.

    Parameters
    ----------
    method : {"pca", "tsne", "umap", "lda"}, default="pca"
        ``tsne`` is openTSNE's (FFT-accelerated from 10,000 rows in 2-D,
        else Barnes-Hut) after PCA to ``pca_dims``, as the articles do; ``lda`` is
        scikit-learn's linear discriminant analysis and needs labels ``y``.
    n_components : int, default=2
        2 or 3 for a picture; LDA allows at most ``classes - 1``.
    perplexity : float, default=30.0
        t-SNE's perplexity (lowered to ``(n - 1) / 3`` on few rows).
    n_iter : int, default=500
        t-SNE's iterations after the 250 of early exaggeration.
    n_neighbors : int, default=15
        UMAP's neighbourhood size (lowered to ``n - 1`` on few rows).
    pca_dims : int, default=50
        Dimensions kept by the PCA that runs before t-SNE and UMAP.
    random_state : int or None, default=None
    n_jobs : int or None, default=None
        Threads for t-SNE (-1: all cores); None uses the idle cores (see
        :func:`~latentatlas.threads.idle_cores`) from 10,000 rows and one
        below, where threads cost more than they save.

    Attributes
    ----------
    embedding_ : ndarray of shape (n_samples, n_components), float32
        The training rows' coordinates.
    model_ : object
        The fitted PCA, LDA, UMAP or openTSNE embedding.
    pca_ : PCA or None
        The PCA before t-SNE and UMAP, when the rows had more than ``pca_dims`` features.
    n_features_in_ : int
    """

    def __init__(self, method: str = "pca", n_components: int = 2, *, perplexity: float = 30.0, n_iter: int = 500,
                 n_neighbors: int = 15, pca_dims: int = 50, random_state: int | None = None, n_jobs: int | None = None):
        self.method = method
        self.n_components = n_components
        self.perplexity = perplexity
        self.n_iter = n_iter
        self.n_neighbors = n_neighbors
        self.pca_dims = pca_dims
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y=None) -> "Projection":
        """Fit on the rows of ``X`` (and labels ``y`` for LDA).

        Raises
        ------
        UsageError
            On a bad parameter, LDA without labels or with too many
            components, or too few rows.
        """
        if self.method not in METHODS:
            raise UsageError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1:
            raise UsageError(f"n_components must be an integer >= 1, got {self.n_components!r}")
        X = validate_data(self, X, dtype=np.float64)
        if len(X) <= self.n_components:
            raise UsageError(f"n_samples={len(X)} is too few for a {self.n_components}-D projection")
        fit = getattr(self, f"_fit_{self.method}")
        self.embedding_ = np.ascontiguousarray(fit(X, y), np.float32)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # coordinates are always float32
        return tags

    def fit_transform(self, X, y=None, **params) -> np.ndarray:
        """:meth:`fit`, then the training rows' coordinates."""
        return self.fit(X, y).embedding_

    def transform(self, X) -> np.ndarray:
        """Coordinates of new rows (t-SNE and UMAP place them among the training rows)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if self.pca_ is not None:
            X = self.pca_.transform(X)
        return np.asarray(self.model_.transform(X), np.float32)

    def _fit_pca(self, X, y):
        from sklearn.decomposition import PCA

        self.pca_ = None
        if self.n_components > X.shape[1]:
            raise UsageError(f"PCA to {self.n_components} dimensions needs rows of at least that many numbers, "
                             f"got {X.shape[1]}")
        self.model_ = PCA(self.n_components, random_state=self.random_state).fit(X)
        return self.model_.transform(X)

    def _fit_lda(self, X, y):
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

        self.pca_ = None
        if y is None:
            raise UsageError("LDA needs labels: the rows have none")
        classes = np.unique(np.asarray(y).astype(str))
        if self.n_components > len(classes) - 1:
            raise UsageError(f"LDA gives at most classes - 1 = {len(classes) - 1} dimensions "
                             f"({len(classes)} classes), not {self.n_components}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Variables are collinear" on pixels
            self.model_ = LinearDiscriminantAnalysis(n_components=self.n_components).fit(X, np.asarray(y).astype(str))
        return self.model_.transform(X)

    def _reduce(self, X):
        from sklearn.decomposition import PCA

        dims = min(self.pca_dims, len(X))
        self.pca_ = PCA(dims, random_state=self.random_state).fit(X) if X.shape[1] > dims else None
        return self.pca_.transform(X) if self.pca_ is not None else X

    def _fit_tsne(self, X, y):
        TSNE = _optional("openTSNE", "TSNE", "t-SNE")
        reduced = self._reduce(X)
        tsne = TSNE(
            n_components=self.n_components, n_iter=self.n_iter,
            perplexity=min(self.perplexity, max(1.0, (len(X) - 1) / 3)),
            negative_gradient_method="auto" if self.n_components <= 2 else "bh",
            random_state=self.random_state, verbose=False,
            n_jobs=self.n_jobs if self.n_jobs is not None else (idle_cores() if len(X) >= _MANY_ROWS else 1),
        )
        self.model_ = tsne.fit(reduced)
        return np.asarray(self.model_)

    def _fit_umap(self, X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba and "n_jobs overridden by random_state"
            UMAP = _optional("umap", "UMAP", "UMAP")
            reduced = self._reduce(X)
            self.model_ = UMAP(n_components=self.n_components, n_neighbors=max(2, min(self.n_neighbors, len(X) - 1)),
                               random_state=self.random_state).fit(reduced)
        return self.model_.embedding_


def _optional(module: str, name: str, what: str):
    """``module.name`` from an optional dependency, or a :class:`UsageError` saying how to install it."""
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        raise UsageError(f"{what} needs the {module} package: pip install 'latentatlas[projection]'") from None
