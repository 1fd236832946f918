"""Temporal interpolation: finding triples, and the mean of neighbours on a moving blob."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from latentatlas import Atlas
from latentatlas.errors import UsageError
from latentatlas.ops.evaluate.interpolation import JSON_KEYS, TemporalOptions, find_triples


@pytest.mark.parametrize("text, seconds", [("1h", 3600), ("30min", 1800), ("15m", 900), ("1d", 86400),
                                           ("90s", 90), ("1h30m", 5400), ("1.5h", 5400), (" 2 h ", 7200)])
def test_the_step_reads_durations(text, seconds):
    assert TemporalOptions(step=text).delta == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "h", "1 hour", "0h", "-1h", "1h x"])
def test_the_step_refuses_what_is_no_positive_duration(text):
    with pytest.raises(UsageError, match="step must be") as caught:
        TemporalOptions(step=text)
    assert caught.value.parameter == "step"


def test_triples_with_gaps_unsorted_times_groups_and_duplicates():
    hours = [5, 0, 2, 1, 4, 6, 7, 4]   # gap at 3; hour 4 twice; unsorted
    ids = np.array([10, 11, 12, 13, 14, 15, 16, 99])
    times = np.datetime64("2024-01-01T00") + np.array(hours, "timedelta64[h]")
    groups = [("a",)] * 8
    triples, duplicates = find_triples(ids, times, groups, timedelta(hours=1))
    # t=1 (0,1,2), t=5 (4,5,6), t=6 (5,6,7); t=2 and t=4 miss hour 3
    assert triples.tolist() == [[11, 13, 12], [14, 10, 15], [10, 15, 16]] and duplicates == 1
    two_hours, _ = find_triples(ids, times, groups, timedelta(hours=2))
    assert two_hours.tolist() == [[11, 12, 14], [12, 14, 15]]  # t=5 misses hour 3, t=6 hour 8
    tiles = [("a",), ("a",), ("b",), ("a",), ("a",), ("a",), ("a",), ("a",)]  # hour 2 is another tile
    assert find_triples(ids, times, tiles, timedelta(hours=1))[0].tolist() == [[14, 10, 15], [10, 15, 16]]


def test_mean_of_neighbours_is_much_closer_than_a_step(moving_atlas, tmp_path):
    with Atlas.open(moving_atlas, read_only=True) as atlas:
        report = atlas.evaluate_interpolation("1h")
        assert report.triples == 38 - 3 - 4  # interior hours, less the gaps 7, 20, 21 and the hours 6, 8, 19, 22 beside them
        assert report.ratio < 0.1 and report.code_sqdist_interp < report.code_sqdist_step
        assert report.psnr_interp is not None and report.psnr_interp <= report.psnr_reconstruction + 1.0
        assert report.failures == [] and report.duplicates == 0
        assert list(report.to_dict()) == list(JSON_KEYS)
        path = report.write_parquet(tmp_path / "triples.parquet")
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        assert table.num_rows == report.triples
        assert np.all(np.diff(table.column("time").to_numpy()) > np.timedelta64(0))
        assert np.allclose(table.column("code_sqdist_interp").to_numpy().mean(), report.code_sqdist_interp)
        with pytest.raises(UsageError, match="none has rows at both"):
            atlas.evaluate_interpolation("3d")
