"""Units of work (latentatlas.sources.units): a source's files listed without opening them, each read on its own."""

from __future__ import annotations

import os

import pytest

from latentatlas.errors import BadInputError
from latentatlas.sources import ReaderOptions, list_units, read_sources, read_unit


def test_units_read_alone_give_the_records_of_the_whole_folder(digits_dir):
    units, failures = list_units([digits_dir])
    scan = read_sources([digits_dir])
    assert not failures and len(units) == len(scan.records)
    assert [(u.path, u.label) for u in units] == [(r.uri, r.label) for r in scan.records]
    records = [r for u in units for r in read_unit(u, ReaderOptions()).records]
    assert [(r.uri, r.label, r.sha256) for r in records] == [(r.uri, r.label, r.sha256) for r in scan.records]


def test_a_field_folder_splits_into_its_files_and_other_sources_stay_whole(tmp_path):
    from latentatlas.datasets.samples import export_sample

    grib, hours = export_sample("radar", tmp_path / "grib", fmt="grib2", days=1, grid=(16, 24))
    stack, _ = export_sample("radar", tmp_path / "npy", fmt="npy", days=1, grid=(16, 24))
    units, _ = list_units([grib, stack / "radar.npy"])
    assert len(units) == hours + 1 and all(u.size > 0 and u.label is None for u in units)
    options = ReaderOptions(tile=8)
    records = [r for u in units for r in read_unit(u, options).records]
    expected = read_sources([grib, stack / "radar.npy"], options).records
    assert [(r.uri, r.tile_row, r.tile_col, r.sha256) for r in records] == \
        [(r.uri, r.tile_row, r.tile_col, r.sha256) for r in expected]


def test_a_name_that_is_no_file_is_a_failure_and_an_empty_folder_an_error(tmp_path, digits_dir):
    folder = tmp_path / "images"
    folder.mkdir()
    os.mkfifo(folder / "pipe.png")
    units, failures = list_units([folder])
    assert not units and failures[0].reason == "not a regular file (a FIFO, device or socket); skipped"
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="folder holds no images"):
        list_units([tmp_path / "empty"])
    with pytest.raises(BadInputError, match="no sources given"):
        list_units([])
