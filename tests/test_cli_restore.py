"""End to end through the CLI: fit --corrupt, restore / denoise, evaluate restore, and their errors."""

from __future__ import annotations

import json

import numpy as np

from latentatlas.sources import read_image, write_image


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fit_with_a_corruption_stores_it_and_info_shows_it(cli, shapes_dir, tmp_path):
    atlas = tmp_path / "r.atlas"
    fitted = _json(cli("fit", shapes_dir / "test", "--atlas", atlas, "--corrupt", "mask:crosshair", "--corrupt",
                       "noise:0.05", "--bottleneck", "conv", "--base-channels", "8", "--blocks", "1", "--epochs", "1",
                       "--batch-size", "8", "--json"))
    assert fitted["corruption"] == ["mask:crosshair", "noise:0.05"] and fitted["bottleneck"] == "conv"
    assert fitted["code_size"] is None and fitted["input_shape"] == [3, 32, 32]
    config = json.loads((atlas / "model" / "config.json").read_text())
    assert config["corruption"] == ["mask:crosshair", "noise:0.05"]
    assert {k: config["autoencoder"][k] for k in ("bottleneck", "levels", "blocks", "residual", "linear_path")} == {
        "bottleneck": "conv", "levels": 0, "blocks": 1, "residual": True, "linear_path": False}
    info = _json(cli("info", "--atlas", atlas, "--json"))
    assert info["model"]["bottleneck"] == "conv" and info["model"]["corruption"] == fitted["corruption"]
    text = cli("info", "--atlas", atlas)
    assert "conv feature map" in text.stdout and "Trained to undo: mask:crosshair then noise:0.05." in text.stdout
    assert fitted["notes"] == []


def test_fit_with_a_corruption_and_a_vector_code_says_what_restores_better(cli, shapes_dir, tmp_path):
    fitted = cli("fit", shapes_dir / "test", "--atlas", tmp_path / "v.atlas", "--corrupt", "noise:0.1",
                 "--code-size", "8", "--base-channels", "8", "--epochs", "1", "--batch-size", "8")
    assert fitted.exit_code == 0, fitted.output
    text = " ".join(fitted.stdout.split())
    assert text.count("Note:") == 1 and "for restoration only, fit with --bottleneck conv." in text


def test_restore_and_denoise_write_images_and_list_bad_ones(cli, denoise_atlas, shapes_dir, tmp_path):
    circles = sorted((shapes_dir / "test" / "circle").glob("*.png"))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    result = cli("restore", *circles[:3], tmp_path / "broken.png", "--atlas", denoise_atlas, "--out", tmp_path / "out",
                 "--json")
    restored = _json(result)
    assert restored["images"] == 3 and restored["corruption"] == "noise:0.1" and restored["scale"] == 1
    assert [f["uri"].split("/")[-1] for f in restored["failed"]] == ["broken.png"]
    assert "Skipped 1 unreadable item(s)" in result.stderr
    assert read_image(tmp_path / "out" / circles[0].name).shape == (32, 32, 3)
    big = tmp_path / "big.png"
    write_image(big, np.random.default_rng(0).integers(0, 256, (70, 90, 3), dtype=np.uint8))
    text = cli("denoise", big, "--atlas", denoise_atlas, "--out", tmp_path / "d", "--stride", "8", "--format", "tif")
    assert text.exit_code == 0 and "Restored 1 images into" in text.stdout
    assert read_image(tmp_path / "d" / "big.tif").shape == (70, 90, 3)


def test_evaluate_restore_json_table_and_grid(cli, denoise_atlas, shapes_dir, tmp_path):
    result = _json(cli("evaluate", "restore", shapes_dir / "test", "--atlas", denoise_atlas, "--out",
                       tmp_path / "grid.png", "--examples", "2", "--json"))
    assert [r["method"] for r in result["rows"]] == ["corrupted", "ours", "gaussian", "median", "nlmeans"]
    assert set(result["rows"][0]) == {"method", "psnr", "ssim", "parameter"}
    assert result["images"] + result["tuned_on"] == 24 and result["grid"] == str(tmp_path / "grid.png")
    assert read_image(tmp_path / "grid.png").shape[2] >= 3
    table = cli("evaluate", "restore", shapes_dir / "test" / "square", "--atlas", denoise_atlas, "--corrupt", "mask:box")
    assert table.exit_code == 0 and "telea" in table.stdout and "corruption: mask:box" in table.stdout


def test_bad_input_is_one_line_with_its_status(cli, error_line, denoise_atlas, shapes_dir, tmp_path):
    first = sorted((shapes_dir / "test" / "circle").glob("*.png"))[0]
    fit = ("fit", shapes_dir / "test", "--atlas", tmp_path / "a")
    assert ("corruption 'blur:3': unknown kind 'blur' (known: noise:SIGMA, saltpepper:AMOUNT"
            in error_line(cli(*fit, "--corrupt", "blur:3"), 2))
    assert "use --no-linear-path" in error_line(cli(*fit, "--bottleneck", "conv", "--linear-path"), 2)
    build = cli("build", shapes_dir / "test", "--atlas", tmp_path / "a", "--bottleneck", "conv")
    assert "makes no vector code" in error_line(build, 2)
    assert "convolutional bottleneck" in error_line(cli("embed", first, "--atlas", denoise_atlas), 1)
    assert "makes no vector code" in error_line(cli("search", first, "--atlas", denoise_atlas), 1)

    def restore(path):
        return cli("restore", path, "--atlas", denoise_atlas, "--out", tmp_path / "o")

    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    assert "no image could be restored: " in error_line(restore(tmp_path / "broken.png"), 1)
    np.save(tmp_path / "five.npy", np.zeros((1, 8, 8, 5), np.uint8))
    assert "image has 5 channels; the model takes 3" in error_line(restore(tmp_path / "five.npy"), 1)
    evaluate = ("evaluate", "restore", first, "--atlas", denoise_atlas, "--corrupt")
    assert "gives 1-channel inputs; the model takes 3" in error_line(cli(*evaluate, "gray"), 2)
    assert "QUALITY must be a whole number in [1, 100]" in error_line(cli(*evaluate, "jpeg:101"), 2)
