"""How well a representation separates known classes: nearest centroid, kNN, retrieval.

The accuracy article's method: class centroids are fitted on a training
split and each held-out row gets the class of the nearest centroid; per-class
precision, recall and F1 follow from the confusion matrix. Beside it, the
kNN classifier's accuracy and retrieval mAP@10 (held-out rows querying the
training rows).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ClassScores", "scores_from_confusion", "label_agreement", "mean_average_precision", "score_representation",
           "natural_order"]


@dataclass
class ClassScores:
    """Scores of one representation: macro averages, per class, and the confusion matrix."""

    classes: list[str]
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    confusion: np.ndarray
    knn_accuracy: float
    map_at_10: float
    dims: int
    top5_agreement: float = float("nan")

    def row(self) -> dict[str, float]:
        """Macro averages: ``precision``, ``recall``, ``f1``; ``knn_accuracy``, ``top5_agreement``, ``map_at_10``."""
        return {
            "precision": float(self.precision.mean()), "recall": float(self.recall.mean()),
            "f1": float(self.f1.mean()), "knn_accuracy": self.knn_accuracy, "top5_agreement": self.top5_agreement,
            "map_at_10": self.map_at_10,
        }

    def per_class(self) -> dict[str, Any]:
        """Per-class lists in the order of ``classes``, the confusion matrix (rows: truth), and ``dims``."""
        return {
            "dims": self.dims, "classes": self.classes, "precision": self.precision.tolist(),
            "recall": self.recall.tolist(), "f1": self.f1.tolist(), "support": self.support.tolist(),
            "confusion": self.confusion.tolist(),
        }


def scores_from_confusion(confusion: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix.

    Parameters
    ----------
    confusion : ndarray of shape (c, c)
        ``confusion[i, j]`` rows of true class ``i`` predicted as ``j``.

    Returns
    -------
    precision, recall, f1 : ndarray of shape (c,)
        0 where undefined (no prediction, no row), as scikit-learn's
        ``zero_division=0``.
    support : ndarray of shape (c,)
        Rows of each true class.
    """
    confusion = np.asarray(confusion, np.float64)
    hits = np.diag(confusion)
    predicted, support = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(hits), where=total > 0)
    return precision, recall, f1, support.astype(np.int64)


def label_agreement(database: np.ndarray, database_y: np.ndarray, queries: np.ndarray, queries_y: np.ndarray,
                    k: int = 5) -> float:
    """The share of each query's ``k`` nearest database rows (Euclidean) that have its label, averaged."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(database))
    nearest = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(database).kneighbors(queries, return_distance=False)
    return float((database_y[nearest] == queries_y[:, None]).mean())


def mean_average_precision(database: np.ndarray, database_y: np.ndarray, queries: np.ndarray,
                           queries_y: np.ndarray, k: int = 10) -> float:
    """Mean over queries of AP@k, ranking the database by Euclidean distance.

    AP@k = (1 / min(k, R)) * sum over ranks i <= k of precision@i * rel(i),
    with R the database rows of the query's class.
    """
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(database))
    nearest = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(database).kneighbors(queries, return_distance=False)
    relevant = database_y[nearest] == queries_y[:, None]
    precision_at = np.cumsum(relevant, axis=1) / np.arange(1, k + 1)
    classes, counts = np.unique(database_y, return_counts=True)
    in_class = dict(zip(classes.tolist(), counts.tolist()))
    denominator = np.array([min(k, in_class.get(y, 0)) for y in queries_y.tolist()], np.float64)
    ap = np.divide((precision_at * relevant).sum(axis=1), denominator, out=np.zeros(len(queries)), where=denominator > 0)
    return float(ap.mean())


def score_representation(train: np.ndarray, train_y: np.ndarray, test: np.ndarray, test_y: np.ndarray,
                         classes: list[str], knn: int = 5) -> ClassScores:
    """Nearest-centroid scores, kNN accuracy, top-5 label agreement and mAP@10 of one representation.

    ``train``/``test`` are the rows already mapped into the representation;
    labels are strings from ``classes``.
    """
    from sklearn.metrics import confusion_matrix
    from sklearn.neighbors import KNeighborsClassifier, NearestCentroid

    train, test = np.asarray(train, np.float64), np.asarray(test, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant pixels (an image's border) make a zero standard deviation
        predicted = NearestCentroid().fit(train, train_y).predict(test)
    confusion = confusion_matrix(test_y, predicted, labels=classes)
    precision, recall, f1, support = scores_from_confusion(confusion)
    knn_model = KNeighborsClassifier(n_neighbors=min(knn, len(train)), algorithm="brute").fit(train, train_y)
    return ClassScores(
        classes=list(classes), precision=precision, recall=recall, f1=f1, support=support, confusion=confusion,
        knn_accuracy=float(knn_model.score(test, test_y)),
        map_at_10=mean_average_precision(train, train_y, test, test_y, 10), dims=int(train.shape[1]),
        top5_agreement=label_agreement(train, train_y, test, test_y, 5),
    )


def natural_order(names: list[str]) -> list[str]:
    """Class names sorted with numbers by value first (``"2"`` before ``"10"``), then the rest."""
    def key(name: str) -> tuple[int, float, str]:
        try:
            return 0, float(name), name
        except ValueError:
            return 1, 0.0, name

    return sorted(names, key=key)
