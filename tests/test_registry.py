"""A source registered in one place is picked up by every command, before the built-in folder reader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from latentatlas.sources import Scan, SourceReader, read_source, registry
from latentatlas.sources.arrays import array_records


def _frames(path: Path, options) -> Scan:
    """A folder-shaped format: ``*.frames/`` holding one ``.npy`` frame per image."""
    scan = Scan()
    for frame in sorted(path.glob("*.npy")):
        scan.extend(array_records(frame))
    return scan


FRAMES = SourceReader("a folder of frames", lambda p: p.is_dir() and p.suffix == ".frames", _frames)


@pytest.fixture()
def frames(tmp_path, rng) -> tuple[Path, Path]:
    many, one = tmp_path / "many.frames", tmp_path / "one.frames"
    for folder, count in ((many, 6), (one, 1)):
        folder.mkdir()
        for i in range(count):
            np.save(folder / f"{i}.npy", rng.integers(0, 17, (8, 8)).astype(np.uint8))
    return many, one


def test_readers_are_tried_in_order_and_a_registered_one_first(frames, monkeypatch):
    many, _ = frames
    with pytest.raises(Exception, match="no images"):  # the image-folder reader claims every folder
        read_source(many)
    monkeypatch.setattr(registry, "_registered", [])
    registry.register_reader(FRAMES)
    assert registry.readers()[0] is FRAMES and registry.reader_for(many) is FRAMES
    assert [r.uri for r in read_source(many).records] == [f"{many / f'{i}.npy'}#0" for i in range(6)]


def test_every_command_reads_a_registered_source(frames, monkeypatch, cli, atlas_copy, tmp_path):
    many, one = frames
    monkeypatch.setattr(registry, "_registered", [FRAMES])
    embedded = json.loads(cli("embed", many, "--atlas", atlas_copy, "--json").stdout)
    assert embedded["added"] == 6 and embedded["failed"] == []
    found = json.loads(cli("search", one, "--atlas", atlas_copy, "-k", "1", "--json").stdout)
    assert found["query"]["image"] == f"{one / '0.npy'}#0" and found["results"][0]["uri"].startswith(str(many))
    compressed = json.loads(cli("compress", many, "--atlas", atlas_copy, "--out", tmp_path / "codes", "--json").stdout)
    assert compressed["files"] == 6
