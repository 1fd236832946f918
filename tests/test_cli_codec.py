"""End to end through the CLI: compress, decompress, evaluate codec, and their errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latentatlas.sources import read_image


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_compress_then_decompress(cli, digits_atlas, digits_dir, tmp_path):
    packed = _json(cli("compress", digits_dir / "9", "--atlas", digits_atlas, "--out", tmp_path / "c", "--json"))
    assert packed["files"] == 30 and packed["dtype"] == "float16" and packed["bytes_per_file"] == 23 + 16 * 2
    assert packed["bytes"] == 30 * 55 and packed["failed"] == []
    restored = _json(cli("decompress", tmp_path / "c", "--atlas", digits_atlas, "--out", tmp_path / "r", "--json"))
    assert restored["images"] == 30 and restored["failed"] == []
    first = sorted((digits_dir / "9").glob("*.png"))[0]
    image = read_image(tmp_path / "r" / first.name)
    assert image.shape == (8, 8) and image.dtype == np.uint8
    text = cli("compress", first, "--atlas", digits_atlas, "--out", tmp_path / "t", "--dtype", "float32")
    said = " ".join(text.stdout.split())  # Rich wraps long paths
    assert text.exit_code == 0 and "87 bytes each" in said and "(float32, 16 numbers)" in said


def test_wrong_model_truncated_and_bad_options_are_one_line_errors(cli, error_line, digits_atlas, digits_dir, tmp_path):
    first = sorted((digits_dir / "9").glob("*.png"))[0]
    _json(cli("compress", first, "--atlas", digits_atlas, "--out", tmp_path / "c", "--json"))
    code = tmp_path / "c" / f"{first.stem}.lac"
    data = code.read_bytes()

    def decompress(path):
        return cli("decompress", path, "--atlas", digits_atlas, "--out", tmp_path / "r")

    code.write_bytes(data[:5] + bytes.fromhex("00112233445566ff") + data[13:])
    assert "made by model 00112233445566ff, not by this atlas's model" in error_line(decompress(code), 1)
    code.write_bytes(data[:30])
    assert "truncated (30 bytes; its header implies 55)" in error_line(decompress(code), 1)
    assert "none.lac: cannot read" in error_line(decompress(tmp_path / "none.lac"), 1)
    int4 = cli("compress", first, "--atlas", digits_atlas, "--out", tmp_path / "c", "--dtype", "int4")
    assert "dtype must be one of float32, float16, int8" in error_line(int4, 2)


def test_evaluate_codec_json_and_plot(cli, atlas_copy, digits_dir, tmp_path):
    held_out = [sorted((digits_dir / label).glob("*.png"))[0] for label in "0123"]
    result = _json(cli("evaluate", "codec", *held_out, "--atlas", atlas_copy, "--out", tmp_path / "rd.png", "--json"))
    assert result["images"] == 4 and result["plot"] == str(tmp_path / "rd.png")
    assert read_image(tmp_path / "rd.png").shape[2] >= 3
    assert {r["method"] for r in result["rows"]} == {"latent", "pca", "jpeg", "webp"}
    assert set(result["rows"][0]) == {"method", "dtype", "bytes_per_image", "bpp", "psnr", "ssim", "quality", "smallest_share"}
    table = cli("evaluate", "codec", *held_out, "--atlas", atlas_copy, "--dtype", "float16")
    assert table.exit_code == 0 and "latent" in table.stdout and "PCA: the model's linear path" in table.stdout


def test_compress_and_its_evaluation_read_images_as_the_atlas_does(cli, radar_atlas, radar_npy, tmp_path):
    import shutil

    from latentatlas import Atlas
    from latentatlas.ops.codec import read_code
    from latentatlas.store.schema import READER_SETTING
    from latentatlas.sources import ReaderOptions

    atlas_path = shutil.copytree(radar_atlas, tmp_path / "wx.atlas")
    with Atlas.open(atlas_path) as atlas:  # as if fitted with --crop 0,0,16,28 --tile 8
        atlas.store.set_setting(READER_SETTING, ReaderOptions(clip=(0, 60), crop=(0, 0, 16, 28), tile=8).to_dict())
    fields = np.load(radar_npy)[:3]
    _json(cli("compress", radar_npy, "--atlas", atlas_path, "--out", tmp_path / "c", "--dtype", "float32", "--json"))
    with Atlas.open(atlas_path) as atlas:
        _, code = read_code(tmp_path / "c" / "radar_1.lac", atlas.model)
        cropped, whole = atlas.model.encode([np.clip(fields[1, :16, :28], 0, 60), np.clip(fields[1], 0, 60)])
    np.testing.assert_allclose(code, cropped, rtol=1e-4, atol=1e-4)  # the crop, not the whole field nor a tile
    assert not np.allclose(code, whole, atol=1e-3)
    np.save(tmp_path / "held_out.npy", fields)
    scored = _json(cli("evaluate", "codec", tmp_path / "held_out.npy", "--atlas", atlas_path, "--dtype", "float32",
                       "--json"))
    assert scored["rows"][0]["bpp"] == pytest.approx(87 * 8 / (16 * 28))  # bits over the crop's pixels
