"""Built-in sample sets: made from on-disk data or a seed, exported as files."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from latentatlas.datasets.samples import TASK_COLOURS, export_sample, load_sample
from latentatlas.errors import UsageError
from latentatlas.models.preprocess import LUMA
from latentatlas.sources import read_source


def test_digits_are_the_1797_labelled_8x8_digits():
    data = load_sample("digits")
    assert len(data) == 1797
    assert data.images[0].shape == (8, 8) and data.images[0].dtype == np.uint8
    assert sorted(set(data.labels)) == [str(i) for i in range(10)]
    assert max(int(im.max()) for im in data.images) == 255


def test_photos_are_64px_rgb_tiles_with_their_photo_named():
    data = load_sample("photos")
    assert len(data) > 500
    assert {im.shape for im in data.images} == {(64, 64, 3)}
    assert {"astronaut", "china", "coffee"} <= {m["photo"] for m in data.meta}
    assert all(label is None for label in data.labels)


def test_shapes_are_reproducible_and_labelled():
    a, b, c = load_sample("shapes", seed=1, n=20), load_sample("shapes", seed=1, n=20), load_sample("shapes", seed=2, n=20)
    assert all(np.array_equal(x, y) for x, y in zip(a.images, b.images))
    assert not all(np.array_equal(x, y) for x, y in zip(a.images, c.images))
    assert set(a.labels) == {"circle", "square"}
    assert a.images[0].shape == (32, 32, 3)


def test_export_writes_label_folders_and_a_manifest(tmp_path):
    folder, count = export_sample("shapes", tmp_path / "shapes", n=10)
    assert count == 10
    records = read_source(folder).records
    assert sorted({r.label for r in records}) == ["circle", "square"]
    with open(folder / "labels.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10 and rows[0]["path"].startswith(rows[0]["label"] + "/")
    manifest = read_source(folder / "labels.csv").records
    assert [r.label for r in manifest] == [row["label"] for row in rows]


def test_unknown_sample_set_names_the_choices():
    with pytest.raises(UsageError, match="unknown sample set 'mnist'; choose one of digits, photos, shapes"):
        load_sample("mnist")


def test_colour_shapes_are_the_shapes_with_red_circles_and_blue_squares():
    plain, task = load_sample("shapes", seed=3, n=12), load_sample("colour-shapes", seed=3, n=12)
    assert task.labels == plain.labels
    for a, b, label, meta in zip(plain.images, task.images, task.labels, task.meta):
        assert np.array_equal(a.any(axis=2), b.any(axis=2))
        assert (meta["colour"], tuple(b[b.any(axis=2)][0])) == TASK_COLOURS[label]
    grey = [np.rint(np.array(rgb) @ LUMA) for _, rgb in TASK_COLOURS.values()]
    assert grey[0] == grey[1]  # only the shape tells the colour
