"""Shared fixtures: small generated data in temporary folders, and trained digits and radar atlases."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from latentatlas.sources import ReaderOptions, write_image
from latentatlas.sources.samples import load_sample

DIGITS_PER_CLASS = 30


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory) -> Path:
    """300 digits (30 per class) as PNG files in label sub-folders."""
    root = tmp_path_factory.mktemp("digits")
    data = load_sample("digits")
    count: dict[str, int] = {}
    for image, name, label in zip(data.images, data.names, data.labels):
        if count.get(label, 0) < DIGITS_PER_CLASS:
            count[label] = count.get(label, 0) + 1
            write_image(root / label / f"{name}.png", image)
    return root


@pytest.fixture(scope="session")
def digits_atlas(tmp_path_factory, digits_dir) -> Path:
    """An atlas built on ``digits_dir``: 16 numbers per code, a few epochs (read-only use)."""
    from latentatlas import Atlas

    path = tmp_path_factory.mktemp("atlases") / "digits.atlas"
    with Atlas.open(path) as atlas:
        atlas.build(digits_dir, code_size=16, epochs=15, batch_size=32, base_channels=16, seed=0)
    return path


@pytest.fixture()
def atlas_copy(tmp_path, digits_atlas) -> Path:
    """A private copy of the digits atlas that a test may change."""
    return Path(shutil.copytree(digits_atlas, tmp_path / "copy.atlas"))


@pytest.fixture()
def cli():
    """Run the CLI in-process: ``cli("search", "--atlas", ...)`` returns the click Result."""
    from latentatlas.cli import app

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def radar_npy(tmp_path_factory):
    """Two days of generated radar (from 2019-01-01) on a 32x56 grid as radar.npy + radar.times.npy."""
    from latentatlas.sources.samples import export_sample

    folder, _ = export_sample("radar", tmp_path_factory.mktemp("radar"), fmt="npy", days=2, grid=(32, 56))
    return folder / "radar.npy"


@pytest.fixture(scope="session")
def radar_atlas(tmp_path_factory, radar_npy):
    """An atlas of the 48 hours, dBZ clipped to 0..60, 16 numbers per field (read-only use)."""
    from latentatlas import Atlas

    path = tmp_path_factory.mktemp("atlases") / "wx.atlas"
    with Atlas.open(path) as atlas:
        atlas.build(radar_npy, reader=ReaderOptions(clip=(0, 60)), code_size=16, epochs=3, batch_size=16,
                    base_channels=8, seed=0)
    return path
