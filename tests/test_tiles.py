"""Tiles cover every image and carry their positions; pixel settings (fill, crop, scale, clip) on any source."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas.errors import BadInputError, UsageError
from latentatlas.sources import ReaderOptions, read_source, write_image
from latentatlas.sources.tiles import tile_starts


@pytest.mark.parametrize("length, tile, stride, starts", [
    (32, 16, 16, [0, 16]), (40, 16, 16, [0, 16, 24]), (40, 16, 8, [0, 8, 16, 24]), (10, 16, 8, [0]), (16, 16, 4, [0]),
])
def test_tile_starts_step_by_stride_and_end_at_the_edge(length, tile, stride, starts):
    assert tile_starts(length, tile, stride) == starts


def test_tiles_cover_the_field_and_carry_their_positions(tmp_path, rng):
    stack = rng.random((2, 30, 45)).astype(np.float32)
    np.save(tmp_path / "f.npy", stack)
    records = read_source(tmp_path / "f.npy", ReaderOptions(tile=16, stride=12)).records
    per_image = len(tile_starts(30, 16, 12)) * len(tile_starts(45, 16, 12))
    assert len(records) == 2 * per_image == 2 * 3 * 4
    covered = np.zeros((2, 30, 45), int)
    for record in records:
        image = 0 if record.uri.endswith("#0") else 1
        top, left = record.meta["top"], record.meta["left"]
        assert (top, left) == (tile_starts(30, 16, 12)[record.tile_row], tile_starts(45, 16, 12)[record.tile_col])
        pixels = record.load()
        assert pixels.shape == record.shape == (16, 16)
        np.testing.assert_array_equal(pixels, stack[image, top:top + 16, left:left + 16])
        covered[image, top:top + 16, left:left + 16] += 1
    assert covered.min() >= 1
    assert len({r.sha256 for r in records}) == len(records)


def test_tiles_of_image_files_and_unreadable_ones(tmp_path, rng):
    write_image(tmp_path / "a.png", rng.integers(0, 255, (20, 20, 3), dtype=np.uint8))
    (tmp_path / "b.png").write_text("not an image")
    scan = read_source(tmp_path, ReaderOptions(tile=10))
    assert [(r.tile_row, r.tile_col) for r in scan.records] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [f.uri.rsplit("/", 1)[1] for f in scan.failures] == ["b.png"]
    assert "not an image" in scan.failures[0].reason


def test_fill_crop_scale_and_clip_apply_to_any_source(tmp_path):
    field = np.arange(8 * 12, dtype=np.float32).reshape(8, 12)
    field[0, 0] = np.nan
    np.save(tmp_path / "f.npy", field[None])
    options = ReaderOptions(fill=-1.0, crop=(0, 0, 4, 8), scale=0.5, clip=(0.0, 20.0))
    record = read_source(tmp_path / "f.npy", options).records[0]
    assert record.shape == (2, 4)
    expected = np.clip(np.nan_to_num(field[:4, :8], nan=-1.0).reshape(2, 2, 4, 2).mean(axis=(1, 3)), 0, 20)
    np.testing.assert_allclose(record.load(), expected, rtol=1e-6)
    plain = read_source(tmp_path / "f.npy").records[0]
    assert plain.sha256 != record.sha256 and np.isnan(plain.load()[0, 0])


def test_a_crop_outside_the_image_is_a_bad_input(tmp_path):
    np.save(tmp_path / "f.npy", np.zeros((1, 8, 8), np.float32))
    with pytest.raises(BadInputError, match=r"f.npy#0: crop \(10, 0, 4, 4\) starts outside the 8x8 image"):
        read_source(tmp_path / "f.npy", ReaderOptions(crop=(10, 0, 4, 4))).records[0].load()


@pytest.mark.parametrize("settings, message", [
    ({"clip": (60, 0)}, "clip must be two finite numbers LOW < HIGH"),
    ({"crop": (0, 0, 0, 5)}, "crop must be TOP,LEFT,HEIGHT,WIDTH"),
    ({"scale": 1.5}, r"scale must be in \(0, 1\]"),
    ({"tile": 2}, "tile must be at least 4 pixels"),
    ({"stride": 4}, "stride needs a tile size"),
    ({"fill": float("nan")}, "fill must be a finite number"),
])
def test_bad_reader_options_are_usage_errors(settings, message):
    with pytest.raises(UsageError, match=message):
        ReaderOptions(**settings)


def test_reader_options_round_trip_through_json():
    options = ReaderOptions(variables=("refc",), filters=(("stepType", "instant"),), clip=(0, 60), crop=(1, 2, 3, 4),
                            scale=0.25, tile=128, stride=64, fill=0.0)
    assert ReaderOptions.from_dict(options.to_dict()) == options
    assert ReaderOptions.from_dict(None) == ReaderOptions()
    assert options.updated(tile=None, stride=None).tile is None
    with pytest.raises(UsageError, match="unknown reader option"):
        options.updated(size=3)
