"""Scores of a representation: precision/recall from the confusion matrix, mAP@10, nearest centroid."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

from latentatlas.space.scores import mean_average_precision, natural_order, score_representation, scores_from_confusion


def test_precision_and_recall_equal_scikit_learns_on_a_known_confusion_matrix():
    confusion = np.array([[5, 2, 0, 1], [1, 7, 2, 0], [0, 0, 0, 3], [0, 0, 0, 4]])  # class 2 is never predicted
    truth = np.concatenate([np.full(confusion[i].sum(), i) for i in range(4)])
    predicted = np.concatenate([np.repeat(np.arange(4), confusion[i]) for i in range(4)])
    expected = precision_recall_fscore_support(truth, predicted, labels=range(4), zero_division=0)
    for ours, theirs in zip(scores_from_confusion(confusion), expected):
        assert np.allclose(ours, theirs)
    precision, recall, f1, support = scores_from_confusion(confusion)
    assert precision[0] == pytest.approx(5 / 6) and recall[1] == pytest.approx(7 / 10)
    assert precision[2] == 0.0 and support.tolist() == [8, 10, 3, 4]


def test_average_precision_at_k_by_hand():
    database = np.array([[0.0], [1.0], [2.0], [3.0]])
    database_y = np.array(["a", "b", "a", "b"])
    # from 0.1 the ranking is 0(a) 1(b) 2(a) 3(b): AP@3 for "a" = (1/1 + 2/3) / 2; for "b" = (1/2) / 2
    queries, queries_y = np.array([[0.1], [0.1]]), np.array(["a", "b"])
    assert mean_average_precision(database, database_y, queries, queries_y, k=3) == pytest.approx(((1 + 2 / 3) / 2 + 0.25) / 2)


def test_separable_classes_score_one(rng):
    y = np.repeat(np.array(["x", "y", "z"]), 30)
    X = rng.normal(size=(90, 4)) * 0.1 + np.repeat(np.eye(3, 4) * 5, 30, axis=0)
    scores = score_representation(X[::2], y[::2], X[1::2], y[1::2], ["x", "y", "z"])
    assert scores.row() == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "knn_accuracy": 1.0, "top5_agreement": 1.0,
                            "map_at_10": 1.0}
    assert np.array_equal(scores.confusion, np.diag([15, 15, 15]))
    assert scores.per_class()["classes"] == ["x", "y", "z"] and scores.dims == 4


def test_classes_sort_naturally():
    assert natural_order(["10", "2", "b", "1", "a"]) == ["1", "2", "10", "a", "b"]
