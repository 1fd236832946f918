"""Sources: folders, single images, manifests and array stacks become records."""

from __future__ import annotations

from datetime import datetime

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from latentatlas.errors import BadInputError
from latentatlas.sources import read_image, read_source, read_sources, write_image
from latentatlas.sources.loading import load_records


def test_folder_is_recursive_sorted_and_labels_come_from_first_subfolder(tmp_path):
    for path in ["cat/b.png", "cat/deep/a.jpg", "dog/c.bmp", "top.webp", ".hidden/x.png", "notes.txt", "cat/.x.png"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        if path.endswith(".txt"):
            (tmp_path / path).write_text("not an image")
        else:
            write_image(tmp_path / path, np.zeros((4, 5, 3), np.uint8))
    scan = read_source(tmp_path)
    names = [r.uri.removeprefix(str(tmp_path.resolve()) + "/") for r in scan.records]
    assert names == ["top.webp", "cat/b.png", "cat/deep/a.jpg", "dog/c.bmp"]
    assert [r.label for r in scan.records] == [None, "cat", "cat", "dog"]
    assert scan.failures == []


def test_empty_folder_is_refused_with_its_name(tmp_path):
    with pytest.raises(BadInputError, match=f"{tmp_path}.*no images"):
        read_source(tmp_path)


def test_unknown_file_kind_and_missing_path_are_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BadInputError, match="notes.txt: not a folder, image, manifest or array stack"):
        read_source(tmp_path / "notes.txt")
    with pytest.raises(BadInputError, match="missing.png: no such file"):
        read_source(tmp_path / "missing.png")


def test_sha256_is_of_the_file_bytes_and_equal_for_copies(tmp_path):
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    write_image(tmp_path / "a.png", image)
    (tmp_path / "b.png").write_bytes((tmp_path / "a.png").read_bytes())
    a, b = read_source(tmp_path).records
    assert a.sha256 == b.sha256 and len(a.sha256) == 64


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_grey_and_colour_keep_their_depth(tmp_path, suffix, rng):
    grey = rng.integers(0, 65535, (6, 7), dtype=np.uint16)
    colour = rng.integers(0, 65535, (6, 7, 3), dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / f"grey{suffix}")
    cv2.imwrite(str(tmp_path / f"colour{suffix}"), colour[..., ::-1])
    np.testing.assert_array_equal(read_image(tmp_path / f"grey{suffix}"), grey)
    np.testing.assert_array_equal(read_image(tmp_path / f"colour{suffix}"), colour)


def test_modes_are_converted_or_refused(tmp_path):
    Image.new("P", (5, 4)).save(tmp_path / "palette.png")
    Image.new("LA", (5, 4)).save(tmp_path / "la.png")
    Image.new("1", (5, 4)).save(tmp_path / "bits.png")
    Image.new("CMYK", (5, 4)).save(tmp_path / "cmyk.jpg")
    assert read_image(tmp_path / "palette.png").shape == (4, 5, 3)
    assert read_image(tmp_path / "la.png").shape == (4, 5, 4)
    assert read_image(tmp_path / "bits.png").dtype == np.uint8
    assert read_image(tmp_path / "cmyk.jpg").shape == (4, 5, 3)
    Image.new("I;16", (5, 4)).save(tmp_path / "i16.tif")
    assert read_image(tmp_path / "i16.tif").dtype == np.uint16


def test_corrupt_and_fake_images_are_named_with_the_reason(tmp_path):
    write_image(tmp_path / "good.png", np.zeros((8, 8), np.uint8))
    data = (tmp_path / "good.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "fake.jpg").write_text("this is text")
    with pytest.raises(BadInputError, match="truncated.png: corrupt or truncated"):
        read_image(tmp_path / "truncated.png")
    with pytest.raises(BadInputError, match="fake.jpg: not an image"):
        read_image(tmp_path / "fake.jpg")


def test_batch_loading_keeps_good_and_reports_bad(tmp_path):
    write_image(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
    (tmp_path / "b.png").write_text("garbage")
    loaded = load_records(read_source(tmp_path).records)
    assert [r.uri.endswith("a.png") for r in loaded.records] == [True]
    assert len(loaded.failures) == 1
    assert loaded.failures[0].uri.endswith("b.png") and "not an image" in loaded.failures[0].reason


def test_csv_manifest_reads_time_label_and_meta(tmp_path):
    write_image(tmp_path / "img" / "a.png", np.zeros((4, 4), np.uint8))
    write_image(tmp_path / "img" / "b.png", np.ones((4, 4), np.uint8))
    (tmp_path / "list.csv").write_text(
        "path,time,label,site,score\n"
        "img/a.png,2019-09-20T05:00:00,storm,KTLX,0.5\n"
        "img/b.png,2019-09-20 06:00,,KTLX,\n"
        "img/missing.png,2019-09-20 07:00,x,,\n"
        "img/a.png,not a time,x,,\n"
    )
    scan = read_source(tmp_path / "list.csv")
    assert [r.time for r in scan.records] == [datetime(2019, 9, 20, 5), datetime(2019, 9, 20, 6)]
    assert [r.label for r in scan.records] == ["storm", None]
    assert scan.records[0].meta == {"site": "KTLX", "score": "0.5"}
    reasons = sorted(f.reason for f in scan.failures)
    assert reasons[0].startswith("bad time") and reasons[1].startswith("no such file")


def test_parquet_manifest_and_manifest_without_path_column(tmp_path):
    write_image(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    pq.write_table(pa.table({"path": ["a.png"], "time": [datetime(2020, 1, 1)], "label": ["x"], "n": [3]}),
                   tmp_path / "m.parquet")
    (record,) = read_source(tmp_path / "m.parquet").records
    assert (record.time, record.label, record.meta) == (datetime(2020, 1, 1), "x", {"n": 3})
    (tmp_path / "bad.csv").write_text("name,label\na.png,x\n")
    with pytest.raises(BadInputError, match="bad.csv: manifest needs a 'path' column"):
        read_source(tmp_path / "bad.csv")


def test_npy_stacks_of_2_3_and_4_dimensions(tmp_path, rng):
    np.save(tmp_path / "one.npy", rng.random((5, 6)).astype(np.float32))
    np.save(tmp_path / "grey.npy", rng.integers(0, 255, (3, 5, 6), dtype=np.uint8))
    np.save(tmp_path / "rgb.npy", rng.integers(0, 255, (2, 5, 6, 3), dtype=np.uint8))
    scan = read_sources([tmp_path / "one.npy", tmp_path / "grey.npy", tmp_path / "rgb.npy"])
    assert [r.load().shape for r in scan.records] == [(5, 6)] + [(5, 6)] * 3 + [(5, 6, 3)] * 2
    assert scan.records[1].uri.endswith("grey.npy#0") and scan.records[3].uri.endswith("grey.npy#2")
    assert len({r.sha256 for r in scan.records}) == 6


def test_npz_with_labels_and_times(tmp_path, rng):
    times = np.array(["2019-01-01T00", "2019-01-01T01"], dtype="datetime64[h]")
    np.savez(tmp_path / "s.npz", images=rng.random((2, 4, 4)), labels=np.array(["a", "b"]), times=times)
    records = read_source(tmp_path / "s.npz").records
    assert [r.label for r in records] == ["a", "b"]
    assert [r.time for r in records] == [datetime(2019, 1, 1, 0), datetime(2019, 1, 1, 1)]


@pytest.mark.parametrize("shape", [(2, 3, 4, 5, 6), (0, 4, 4)])
def test_bad_stack_shapes_are_refused(tmp_path, shape):
    np.save(tmp_path / "bad.npy", np.zeros(shape, np.float32))
    with pytest.raises(BadInputError, match="bad.npy: expected an"):
        read_source(tmp_path / "bad.npy")


def test_npz_label_count_must_match(tmp_path):
    np.savez(tmp_path / "s.npz", images=np.zeros((3, 4, 4)), labels=np.array(["a"]))
    with pytest.raises(BadInputError, match="'labels' has 1 entries for 3 images"):
        read_source(tmp_path / "s.npz")


def test_corrupt_npy_is_refused(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(BadInputError, match="x.npy: not a readable NumPy file"):
        read_source(tmp_path / "x.npy")
