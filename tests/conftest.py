"""Shared fixtures: small generated data in temporary folders, and trained digits and radar atlases."""

from __future__ import annotations

import os

if "PYTEST_XDIST_WORKER" in os.environ:  # workers share the cores: one thread each, in subprocesses too
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

import shutil  # noqa: E402  (the thread settings above must come before numpy and torch load)
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from latentatlas.datasets.samples import load_sample
from latentatlas.sources import ReaderOptions, write_image

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


@pytest.fixture
def served(atlas_copy):
    """The digits atlas with a cluster run ``k3`` (for the web page)."""
    from latentatlas import Atlas

    with Atlas.open(atlas_copy) as atlas:
        atlas.cluster(3, name="k3", restarts=1)
    return atlas_copy


@pytest.fixture()
def cli():
    """Run the CLI in-process: ``cli("search", "--atlas", ...)`` returns the click Result."""
    from latentatlas.cli import app

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture()
def error_line():
    """``error_line(result, status)``: check a command failed with ``status`` and one ``Error: ...`` line; return it."""

    def check(result, status: int) -> str:
        assert result.exit_code == status, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
        assert "Traceback" not in result.output
        return lines[0]

    return check


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def make_vector_atlas(path: Path, n: int = 1200, d: int = 8, seed: int = 0) -> Path:
    """An atlas of ``n`` rows with clustered ``d``-number codes, hourly times and labels (no model)."""
    from datetime import datetime, timedelta

    from latentatlas.store import ImageRow, Store

    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(12, d))
    cluster = rng.integers(0, len(centres), n)
    vectors = (centres[cluster] + rng.normal(size=(n, d))).astype(np.float32)
    start = datetime(2024, 1, 1)
    rows = [ImageRow(uri=f"/data/{i:05d}.png", sha256=f"{i:064x}", width=8, height=8, label=str(c),
                     time=start + timedelta(hours=i)) for i, c in enumerate(cluster)]
    store = Store(path)
    store.ensure_embeddings(d)
    store.set_setting("model_fingerprint", "synthetic")
    store.add(rows, vectors)
    store.close()
    return path


@pytest.fixture()
def vector_atlas(tmp_path) -> Path:
    """A private synthetic atlas (see :func:`make_vector_atlas`) a test may change."""
    return make_vector_atlas(tmp_path / "vectors.atlas")


MOVING_FRAMES = 40
MOVING_GAPS = (7, 20, 21)


@pytest.fixture(scope="session")
def moving_stack(tmp_path_factory) -> Path:
    """A smoothly moving blob, one frame an hour with gaps, stored in shuffled order with its times (.npz)."""
    rows, cols = np.mgrid[0:16, 0:16]
    hours = [h for h in range(MOVING_FRAMES) if h not in MOVING_GAPS]
    frames = []
    for hour in hours:
        cy, cx = 8 + 3 * np.sin(hour / 8), 2 + hour * 0.3
        frames.append(np.exp(-((rows - cy) ** 2 + (cols - cx) ** 2) / 8.0) * 255)
    order = np.random.default_rng(0).permutation(len(hours))
    times = np.datetime64("2024-06-01T00:00") + np.array(hours, "timedelta64[h]")
    path = tmp_path_factory.mktemp("moving") / "moving.npz"
    np.savez(path, images=np.array(frames, np.uint8)[order], times=times[order])
    return path


@pytest.fixture(scope="session")
def moving_atlas(tmp_path_factory, moving_stack) -> Path:
    """An atlas of ``moving_stack`` (8 numbers per code; read-only use)."""
    from latentatlas import Atlas

    path = tmp_path_factory.mktemp("atlases") / "moving.atlas"
    with Atlas.open(path) as atlas:
        atlas.build(moving_stack, code_size=8, epochs=2, batch_size=16, base_channels=8, seed=0)
    return path


@pytest.fixture(scope="session")
def radar_npy(tmp_path_factory):
    """Two days of generated radar (from 2019-01-01) on a 32x56 grid as radar.npy + radar.times.npy."""
    from latentatlas.datasets.samples import export_sample

    folder, _ = export_sample("radar", tmp_path_factory.mktemp("radar"), fmt="npy", days=2, grid=(32, 56))
    return folder / "radar.npy"


@pytest.fixture(scope="session")
def radar_atlas(tmp_path_factory, radar_npy):
    """An atlas of the 48 hours, dBZ clipped to 0..60, 16 numbers per field, trained to reconstruct (read-only use)."""
    from latentatlas import Atlas

    path = tmp_path_factory.mktemp("atlases") / "wx.atlas"
    with Atlas.open(path) as atlas:
        atlas.build(radar_npy, reader=ReaderOptions(clip=(0, 60)), code_size=16, epochs=3, batch_size=16,
                    base_channels=8, seed=0, objective="reconstruct")  # the reading and searching, not the objective
    return path


@pytest.fixture(scope="session")
def grib_radar_atlas(tmp_path_factory):
    """Two days of generated radar from 2019-09-20 as GRIB2 on HRRR's Lambert grid (32x56), so a georeferenced atlas:
    dBZ clipped to 0..60, 16 numbers per field, trained to reconstruct (read-only use)."""
    from datetime import datetime

    from latentatlas import Atlas
    from latentatlas.datasets.radar_files import export_radar

    folder, _ = export_radar(tmp_path_factory.mktemp("grib-radar"), "grib2", days=2, grid=(32, 56),
                             start=datetime(2019, 9, 20))
    path = tmp_path_factory.mktemp("atlases") / "grib.atlas"
    with Atlas.open(path) as atlas:
        atlas.build(folder, reader=ReaderOptions(clip=(0, 60)), code_size=16, epochs=3, batch_size=16,
                    base_channels=8, seed=0, objective="reconstruct", progress=False)
    return path


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory) -> Path:
    """Generated shapes (32x32 RGB): 240 to train on in ``train/``, 24 others (another seed) in ``test/``."""
    from latentatlas.datasets.samples import export_sample

    root = tmp_path_factory.mktemp("shapes")
    export_sample("shapes", root / "train", n=240)
    export_sample("shapes", root / "test", seed=1, n=24)
    return root


@pytest.fixture(scope="session")
def denoise_atlas(tmp_path_factory, shapes_dir) -> Path:
    """An atlas whose model (conv bottleneck) learned to remove noise of sigma 0.1 from the shapes (read-only use)."""
    from latentatlas import Atlas

    path = tmp_path_factory.mktemp("atlases") / "denoise.atlas"
    with Atlas.open(path) as atlas:
        atlas.fit(shapes_dir / "train", corrupt=["noise:0.1"], bottleneck="conv", base_channels=16, blocks=3,
                  epochs=6, batch_size=16, seed=0)
    return path
