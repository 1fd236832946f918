"""The rate–distortion report on a few held-out digits."""

from __future__ import annotations

import shutil

import pytest

from latentatlas import Atlas
from latentatlas.codec.codefile import file_size


@pytest.fixture(scope="module")
def few_digits(tmp_path_factory, digits_dir):
    """Six digits as their own folder (the evaluation is per image, so few are enough)."""
    root = tmp_path_factory.mktemp("few")
    for path in sorted(digits_dir.glob("*/*.png"))[::50]:
        shutil.copy(path, root / path.name)
    return root


def test_rows_for_every_method_and_dtype(atlas_copy, few_digits, digits_dir):
    with Atlas.open(atlas_copy, read_only=True) as atlas:
        evaluation = atlas.evaluate_codec(few_digits, pca_train=digits_dir)
    assert evaluation.images == 6 and evaluation.code_size == 16
    assert evaluation.pca == "fitted on 300 training images"
    dtypes = ("float32", "float16", "int8")
    assert [(r.method, r.dtype) for r in evaluation.rows[:6]] == [(m, d) for m in ("latent", "pca") for d in dtypes]
    for name in ("jpeg", "webp"):  # each code's size matched once; sizes that pick the same files share a row
        matched = [r.dtype.split(", ") for r in evaluation.rows if r.method == name]
        assert sorted(d for names in matched for d in names) == sorted(dtypes)
    for row in evaluation.rows:
        assert row.bpp == pytest.approx(row.bytes_per_image * 8 / 64)
        assert 5 < row.psnr < 60 and 0 < row.ssim <= 1
        if row.method in ("latent", "pca"):
            assert row.bytes_per_image == file_size(16, row.dtype) and row.quality is None
        else:  # never above our size unless the format cannot get that small
            target = max(file_size(16, dtype) for dtype in row.dtype.split(", "))
            assert row.bytes_per_image <= target or row.smallest_share > 0
            assert row.quality["min"] <= row.quality["median"] <= row.quality["max"]
    latent32, latent16 = evaluation.row("latent", "float32"), evaluation.row("latent", "float16")
    assert abs(latent32.psnr - latent16.psnr) < 0.05
    assert {p["quality"] for p in evaluation.curves["jpeg"]} >= {1, 50, 95}
    bytes_by_quality = [p["bytes_per_image"] for p in evaluation.curves["jpeg"]]
    assert bytes_by_quality[0] < bytes_by_quality[-1]


def test_default_pca_is_the_models_linear_path(digits_atlas, few_digits):
    with Atlas.open(digits_atlas, read_only=True) as atlas:
        evaluation = atlas.evaluate_codec(few_digits, dtypes=["float16"], formats=[])
    assert [(r.method, r.dtype) for r in evaluation.rows] == [("latent", "float16"), ("pca", "float16")]
    assert evaluation.pca.startswith("the model's linear path") and evaluation.curves == {}
