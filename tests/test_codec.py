"""Compress and decompress through the Python API: round trips, sizes, names and refusals."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from latentatlas import Atlas
from latentatlas.codec.codefile import file_size
from latentatlas.errors import BadInputError, ModelMismatchError, UsageError
from latentatlas.ops.codec import INT8_SCALE_FILE, read_code
from latentatlas.sources import read_image


def _restored_by_id(atlas: Atlas, out, label: str) -> dict[int, np.ndarray]:
    """Decompressed ``.npy`` images of ``label`` keyed by their atlas row id."""
    rows = atlas.sql(f"SELECT id, uri FROM images WHERE label = '{label}' ORDER BY id LIMIT 10").rows
    return {i: np.load(out / (uri.rsplit("/", 1)[1].replace(".png", ".npy"))) for i, uri in rows}


@pytest.mark.parametrize("dtype, tolerance", [("float32", 0), ("float16", 2), ("int8", 24)])
def test_round_trip_matches_decoding_the_stored_code(atlas_copy, digits_dir, tmp_path, dtype, tolerance):
    with Atlas.open(atlas_copy, read_only=True) as atlas:
        report = atlas.compress(digits_dir / "7", tmp_path / "codes", dtype=dtype)
        assert len(report.files) == 30 and report.failures == []
        assert all(p.stat().st_size == file_size(16, dtype) for p in report.files)
        assert report.bytes == 30 * file_size(16, dtype) and report.to_dict()["bpp"] == file_size(16, dtype) * 8 / 64
        atlas.decompress(tmp_path / "codes", tmp_path / "restored", format="npy")
        restored = _restored_by_id(atlas, tmp_path / "restored", "7")
        for row_id, image in restored.items():
            expected = atlas.decode(id=row_id)
            assert image.dtype == np.uint8 and image.shape == expected.shape == (8, 8)
            assert np.abs(image.astype(int) - expected).max() <= tolerance
        first = min(restored)
        uri = atlas.store.images([first])[first]["uri"]
        table = (lambda: _int8(atlas_copy)) if dtype == "int8" else None
        header, code = read_code(tmp_path / "codes" / uri.rsplit("/", 1)[1].replace(".png", ".lac"), atlas.model, table)
        stored = atlas.store.vectors(np.array([first]))[1][0]
        step = {"float32": 0.0, "float16": np.abs(stored) * 2.0**-11, "int8": table().scale_ / 2 if table else 0}[dtype]
        assert header.dtype == dtype and np.all(np.abs(code - stored) <= step + 1e-7)
        if dtype == "float32":  # exactly the stored code, so exactly the image decode gives
            assert np.array_equal(code, stored)
            assert all(np.array_equal(image, atlas.decode(id=i)) for i, image in restored.items())


def _int8(atlas_path):
    from latentatlas.codec.quantise import Int8Quantiser

    return Int8Quantiser.from_dict(json.loads((atlas_path / "model" / INT8_SCALE_FILE).read_text()))


def test_png_output_restores_the_original_size(digits_atlas, digits_dir, tmp_path):
    from latentatlas.sources import write_image

    digit = read_image(sorted((digits_dir / "0").glob("*.png"))[0])
    write_image(tmp_path / "big.png", np.kron(digit, np.ones((3, 5), np.uint8)))
    with Atlas.open(digits_atlas, read_only=True) as atlas:
        atlas.compress(tmp_path / "big.png", tmp_path / "c")
        atlas.decompress(tmp_path / "c" / "big.lac", tmp_path / "r")
    assert read_image(tmp_path / "r" / "big.png").shape == (24, 40)


def test_files_of_another_model_and_damaged_files_are_refused(digits_atlas, digits_dir, tmp_path):
    with Atlas.open(digits_atlas, read_only=True) as atlas:
        atlas.compress(digits_dir / "1", tmp_path / "c")
        files = sorted((tmp_path / "c").glob("*.lac"))
        data = files[0].read_bytes()
        files[0].write_bytes(data[:5] + bytes(8) + data[13:])
        files[1].write_bytes(data[:-3])
        with pytest.raises(ModelMismatchError, match="made by model 0000000000000000, not by this atlas's model"):
            atlas.decompress(files[0], tmp_path / "r")
        with pytest.raises(BadInputError, match="truncated"):
            atlas.decompress(files[1], tmp_path / "r")
        report = atlas.decompress(tmp_path / "c", tmp_path / "r")  # a batch keeps the good files
        assert len(report.files) == 28 and {f.uri for f in report.failures} == {str(files[0]), str(files[1])}


def test_int8_scale_is_learned_once_and_a_changed_table_is_refused(atlas_copy, digits_dir, tmp_path):
    with Atlas.open(atlas_copy, read_only=True) as atlas:
        atlas.compress(digits_dir / "2", tmp_path / "c", dtype="int8")
        table = atlas_copy / "model" / INT8_SCALE_FILE
        saved = json.loads(table.read_text())
        assert saved["model"] == atlas.model.fingerprint and saved["rows"] == 300 and len(saved["scale"]) == 16
        ids, codes = atlas.store.vectors()
        assert np.allclose(saved["offset"], (codes.min(0) + codes.max(0)) / 2, atol=1e-6)
        saved["offset"][0] += 0.5
        table.write_text(json.dumps(saved))
        with pytest.raises(ModelMismatchError, match="another int8 scale table"):
            atlas.decompress(tmp_path / "c", tmp_path / "r")


def test_int8_needs_stored_codes(atlas_copy, digits_dir, tmp_path):
    with Atlas.open(atlas_copy) as atlas:
        atlas.store.clear()
        with pytest.raises(UsageError, match="run `latentatlas embed` first"):
            atlas.compress(digits_dir / "2", tmp_path / "c", dtype="int8")


def test_names_mirror_the_sources_and_clashes_are_refused(digits_atlas, digits_dir, tmp_path):
    stack = np.stack([read_image(p) for p in sorted((digits_dir / "5").glob("*.png"))[:3]])
    np.save(tmp_path / "stack.npy", stack)
    shutil.copy(sorted((digits_dir / "5").glob("*.png"))[0], tmp_path / "one.png")
    with Atlas.open(digits_atlas, read_only=True) as atlas:
        report = atlas.compress([digits_dir / "5", tmp_path / "stack.npy", tmp_path / "one.png"], tmp_path / "c")
        names = sorted(p.relative_to(tmp_path / "c").as_posix() for p in report.files)
        assert names[:3] == [p.stem + ".lac" for p in sorted((digits_dir / "5").glob("*.png"))[:3]]
        assert names[-4:] == ["one.lac", "stack_0.lac", "stack_1.lac", "stack_2.lac"]
        with pytest.raises(UsageError, match="would both be written to one.lac"):
            atlas.compress([tmp_path / "one.png", tmp_path / "one.png"], tmp_path / "d")
        with pytest.raises(UsageError, match="dtype must be one of"):
            atlas.compress(tmp_path / "one.png", tmp_path / "d", dtype="bfloat16")
