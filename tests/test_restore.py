"""Restoration: training on corrupted inputs, tiled restore of any size, colourisation, and the evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from latentatlas import Atlas
from latentatlas.datasets.samples import export_sample, load_sample
from latentatlas.errors import BadInputError, ModelMismatchError, UsageError
from latentatlas.models.tiled import apply_tiled
from latentatlas.sources import read_image, write_image

TILE, HALF = 32, 16


def test_training_with_noise_beats_the_noisy_input_and_evaluate_gives_every_row(denoise_atlas, shapes_dir, tmp_path):
    with Atlas.open(denoise_atlas, read_only=True) as atlas:
        evaluation = atlas.evaluate_restore(shapes_dir / "test", out=tmp_path / "grid.png")
        again = atlas.evaluate_restore(shapes_dir / "test", baselines=["median"], examples=1)
    assert [r.method for r in evaluation.rows] == ["corrupted", "ours", "gaussian", "median", "nlmeans"]
    assert evaluation.images + evaluation.tuned_on == 24 and evaluation.corruption == "noise:0.1"
    ours, noisy = evaluation.row("ours"), evaluation.row("corrupted")
    assert ours.psnr > noisy.psnr + 3 and ours.ssim > noisy.ssim
    assert all(0 < r.ssim <= 1 and 10 < r.psnr < 60 for r in evaluation.rows)
    assert evaluation.row("gaussian").parameter.keys() == {"sigma"} and ours.parameter is None
    assert evaluation.best_baseline == max(evaluation.rows[2:], key=lambda r: r.psnr).method
    assert read_image(evaluation.grid).shape[2] >= 3 and len(evaluation.examples) == 4
    assert [c.split()[0] for c in evaluation.examples[0].captions] == ["clean", "corrupted", "ours",
                                                                      evaluation.best_baseline]
    assert [r.method for r in again.rows] == ["corrupted", "ours", "median"]  # the same seed, the same numbers
    assert again.row("ours").psnr == ours.psnr and again.row("median").psnr == evaluation.row("median").psnr
    assert evaluation.to_dict()["rows"][0] == {"method": "corrupted", "psnr": noisy.psnr, "ssim": noisy.ssim,
                                                "parameter": None}


@pytest.mark.parametrize("corrupt, baselines", [
    (["mask:crosshair"], ["gaussian", "median", "telea"]),
    (["downsample:2"], ["gaussian", "median", "bicubic"]),
    (["saltpepper:0.05", "jpeg:40"], ["gaussian", "median"]),
])
def test_the_baselines_follow_the_corruption(denoise_atlas, shapes_dir, corrupt, baselines):
    with Atlas.open(denoise_atlas, read_only=True) as atlas:
        evaluation = atlas.evaluate_restore(shapes_dir / "test" / "circle", corrupt=corrupt, examples=1)
    assert [r.method for r in evaluation.rows] == ["corrupted", "ours", *baselines]
    assert evaluation.corruption == " then ".join(corrupt)


def test_evaluate_refuses_what_it_cannot_score(denoise_atlas, digits_atlas, shapes_dir, tmp_path):
    with Atlas.open(denoise_atlas, read_only=True) as atlas:
        with pytest.raises(UsageError, match="gives 1-channel inputs; the model takes 3"):
            atlas.evaluate_restore(shapes_dir / "test", corrupt=["gray"])
        with pytest.raises(UsageError, match="unknown baseline"):
            atlas.evaluate_restore(shapes_dir / "test", baselines=["bm3d"])
        (tmp_path / "bad.png").write_bytes(b"not a png")
        with pytest.raises(BadInputError, match="no readable image to evaluate: .*bad.png"):
            atlas.evaluate_restore(tmp_path / "bad.png")
    with Atlas.open(digits_atlas, read_only=True) as atlas:
        with pytest.raises(UsageError, match="trained without a corruption"):
            atlas.evaluate_restore(shapes_dir / "test")


def _border_ratio(restored: np.ndarray, axis: int, step: int) -> float:
    """Mean jump between neighbouring pixels across tile borders (every ``step``) over the mean jump elsewhere."""
    jumps = np.abs(np.diff(restored, axis=axis)).mean(axis=tuple({0, 1, 2} - {axis}))
    border = np.zeros(len(jumps), bool)
    border[step - 1::step] = True  # between pixel k * step - 1 and k * step one tile ends and another starts
    return float(jumps[border].mean() / jumps[~border].mean())


def test_tiled_restore_of_a_large_image_has_no_seams(denoise_atlas):
    with Atlas.open(denoise_atlas, read_only=True) as atlas:
        model = atlas.model
    rows, cols = np.mgrid[0:112, 0:128].astype(np.float32)
    smooth = np.stack([0.2 + 0.5 * cols / 127, 0.5 + 0.3 * np.sin(rows / 9), 0.3 + 0.4 * rows / 111])
    restored = apply_tiled(model, smooth)
    assert restored.shape == smooth.shape
    assert _border_ratio(restored, 2, HALF) <= 1.0 and _border_ratio(restored, 1, HALF) <= 1.0
    abutting = apply_tiled(model, smooth, stride=TILE)  # tiles side by side, as a check that seams would show
    assert _border_ratio(abutting, 2, TILE) > 2.0
    noisy = model.corruption(smooth[None], np.random.default_rng(0))[0]
    np.testing.assert_array_equal(apply_tiled(model, noisy), apply_tiled(model, noisy))


def test_restore_writes_any_size_in_the_inputs_format_and_skips_bad_files(denoise_atlas, tmp_path, rng):
    inputs = tmp_path / "in"
    write_image(inputs / "wide.png", rng.integers(0, 256, (45, 70, 3), dtype=np.uint8))
    write_image(inputs / "small.png", rng.integers(0, 256, (12, 9), dtype=np.uint8))
    np.save(inputs / "stack.npy", rng.integers(0, 256, (2, 40, 40, 3), dtype=np.uint8))
    np.save(inputs / "five.npy", np.zeros((1, 8, 8, 5), np.uint8))
    (inputs / "broken.png").write_bytes(b"\x89PNG garbage")
    with Atlas.open(denoise_atlas, read_only=True) as atlas:
        files = [inputs / name for name in ("wide.png", "small.png", "stack.npy", "five.npy", "broken.png")]
        report = atlas.restore(files, tmp_path / "out")
        with pytest.raises(UsageError, match="would overwrite it"):
            atlas.restore(inputs / "wide.png", inputs)
        with pytest.raises(BadInputError, match="no image could be restored: .*broken.png"):
            atlas.restore(inputs / "broken.png", tmp_path / "none")
        with pytest.raises(UsageError, match="stride must be between 1 and the tile size 32"):
            atlas.restore(inputs / "wide.png", tmp_path / "s", stride=40)
        with pytest.raises(ModelMismatchError, match="convolutional bottleneck"):
            atlas.embed(inputs / "wide.png")
    out = tmp_path / "out"
    assert sorted(p.name for p in report.files) == ["small.png", "stack_0.npy", "stack_1.npy", "wide.png"]
    assert read_image(out / "wide.png").shape == (45, 70, 3) and read_image(out / "small.png").shape == (12, 9, 3)
    stacked = np.load(out / "stack_1.npy")
    assert stacked.shape == (40, 40, 3) and stacked.dtype == np.uint8
    failed = {f.uri.split("/")[-1]: f.reason for f in report.failures}
    assert set(failed) == {"broken.png", "five.npy#0"} and "5 channels; the model takes 3" in failed["five.npy#0"]


def test_super_resolution_enlarges_by_its_factor(shapes_dir, tmp_path):
    with Atlas.open(tmp_path / "sr.atlas") as atlas:
        atlas.fit(shapes_dir / "test", corrupt=["downsample:2"], bottleneck="conv", base_channels=8, blocks=1,
                  epochs=1, batch_size=8)
        write_image(tmp_path / "low.png", np.zeros((10, 14, 3), np.uint8))
        bigger = atlas.restore(tmp_path / "low.png", tmp_path / "up")
        same = atlas.restore(tmp_path / "low.png", tmp_path / "same", upscale=False)
    assert bigger.scale == 2 and read_image(bigger.files[0]).shape == (20, 28, 3)
    assert same.scale == 1 and read_image(same.files[0]).shape == (10, 14, 3)


@pytest.fixture(scope="module")
def colour_atlas(tmp_path_factory):
    """A colourisation model trained on 240 grey shapes with their colours as targets."""
    root = tmp_path_factory.mktemp("colour")
    export_sample("colour-shapes", root / "train", n=240)
    with Atlas.open(root / "colour.atlas") as atlas:
        atlas.fit(root / "train", corrupt=["gray"], bottleneck="conv", levels=2, blocks=1, base_channels=16,
                  epochs=8, batch_size=16, seed=0)
    return root / "colour.atlas"


def test_colourisation_gives_most_pixels_of_each_shape_its_colour(colour_atlas):
    test = load_sample("colour-shapes", seed=1, n=24)
    with Atlas.open(colour_atlas, read_only=True) as atlas:
        model = atlas.model
    assert (model.architecture.in_channels, model.architecture.out_channels) == (1, 3)
    right = []
    for image, label in zip(test.images, test.labels):
        grey = model.input_preprocessor.native(image)  # colour images come in as grey
        assert grey.shape == (1, TILE, TILE)
        out = apply_tiled(model, grey)
        inside = image.any(axis=2)
        red, blue = out[0][inside], out[2][inside]
        right.append(np.mean(red > blue) if label == "circle" else np.mean(blue > red))
    assert min(right) > 0.5 and np.mean(right) > 0.9
