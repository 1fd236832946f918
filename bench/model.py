"""The learned space against PCA of the same size, on held-out images of three collections, at one time budget.

Each data set trains the model ``fit`` chooses by default (preset, family,
precision, augmentation) for ``--budget`` seconds, beside PCA with the same
code size fitted on the same training images; both are scored on images
neither saw:

- radar: the generated year at 64x112, code 50, trained on January to
  October and tested on November and December (time-blocked);
- photos: random 64x64 crops of twelve built-in photographs for training,
  the 64x64 tiles of the other four for testing, code 64;
- digits: a stratified 75/25 split, code 16, with the top-5 label agreement
  and mAP@10 of the codes beside PCA's;
- shapes: 2,000 generated 32x32 shapes to train on and 500 of another seed
  to test, code 16, with retrieval by shape as for digits.

``--set key=value,...`` overrides fields of ``ModelOptions`` (e.g.
``family=classic,linear_path=true`` for the first release's network with its
PCA start) so that each row of the study in docs/model.md is one command.

Training speed is compared with the matrix-multiply rate measured in the
same run, in the training precision. Prints one JSON document
``{"gemm_gflops": ..., "datasets": {name: {...}}}``.

Run: ``.venv/bin/python bench/model.py [--budget 600] [--only radar,photos,digits,shapes] [--set k=v,...]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np
import torch

from latentatlas.baselines.codec import LinearCodec
from latentatlas.models import Corruption, LatentModel
from latentatlas.models.augment import Augmentation
from latentatlas.models.device import resolve_device, resolve_precision
from latentatlas.models.flops import count_flops
from latentatlas.models.options import ModelOptions, architecture
from latentatlas.models.preprocess import PreprocessConfig
from latentatlas.datasets.samples import photographs, load_sample
from latentatlas.models.train import TrainConfig, train
from shared import HELD_OUT

PHOTO_CROPS = 6000


def radar() -> tuple[np.ndarray, np.ndarray, int, bool]:
    sample = load_sample("radar")
    fields = np.clip(np.stack(sample.images).astype(np.float32), 0, 60)[:, None] / 60.0
    months = np.array([int(m["time"][5:7]) for m in sample.meta])
    return fields[months <= 10], fields[months > 10], 50, True


def _rgb(images: list[np.ndarray]) -> np.ndarray:
    rgb = [(im if im.ndim == 3 else np.repeat(im[..., None], 3, 2))[..., :3] for im in images]
    return np.stack(rgb).transpose(0, 3, 1, 2).astype(np.float32) / 255.0


def photos() -> tuple[np.ndarray, np.ndarray, int, bool]:
    rng = np.random.default_rng(0)
    training = [image for name, image in photographs() if name not in HELD_OUT]
    crops = []
    for i in range(PHOTO_CROPS):
        image = training[i % len(training)]
        top, left = rng.integers(0, image.shape[0] - 63), rng.integers(0, image.shape[1] - 63)
        crops.append(image[top:top + 64, left:left + 64])
    tiles = load_sample("photos")
    test = [image for image, meta in zip(tiles.images, tiles.meta) if meta["photo"] in HELD_OUT]
    return _rgb(crops), _rgb(test), 64, False


def digits() -> tuple[np.ndarray, np.ndarray, int, bool, np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    sample = load_sample("digits")
    x = (np.stack(sample.images).astype(np.float32) / 255.0)[:, None]
    labels = np.array(sample.labels)
    train_idx, test_idx = train_test_split(np.arange(len(x)), test_size=0.25, stratify=labels, random_state=0)
    return x[train_idx], x[test_idx], 16, False, labels[train_idx], labels[test_idx]


def shapes() -> tuple[np.ndarray, np.ndarray, int, bool, np.ndarray, np.ndarray]:
    train_set, test_set = load_sample("shapes", n=2000), load_sample("shapes", seed=1, n=500)
    return _rgb(train_set.images), _rgb(test_set.images), 16, False, np.array(train_set.labels), np.array(test_set.labels)


def overrides(text: str) -> dict[str, object]:
    """``"family=classic,linear_path=true"`` as ModelOptions fields (numbers, booleans and words)."""
    parsed: dict[str, object] = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        lowered = value.strip().lower()
        parsed[key.strip()] = (lowered == "true" if lowered in ("true", "false")
                               else int(lowered) if lowered.lstrip("-").isdigit() else value.strip())
    return parsed


def gemm_gflops(dtype: torch.dtype, seconds: float = 2.0) -> float:
    """The best matrix-multiply rate of 1024x1024 products over ``seconds``."""
    a, b = torch.rand(1024, 1024, dtype=dtype), torch.rand(1024, 1024, dtype=dtype)
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        for _ in range(8):
            a @ b
        best = max(best, 8 * 2 * 1024 ** 3 / (time.perf_counter() - start) / 1e9)
    return best


def retrieval(train_codes: np.ndarray, test_codes: np.ndarray, train_labels: np.ndarray,
              test_labels: np.ndarray) -> dict[str, float]:
    """Top-5 label agreement and mAP@10 of test queries against the training codes."""
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=10).fit(train_codes)
    hits = train_labels[index.kneighbors(test_codes, return_distance=False)] == test_labels[:, None]
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, 11)
    ap = (precision_at * hits).sum(axis=1) / np.maximum(hits.sum(axis=1), 1)
    return {"top5_agreement": float(hits[:, :5].mean()), "map10": float(ap.mean())}


def psnr(mse: float) -> float:
    return float(10 * np.log10(1.0 / mse))


def run(name: str, data: tuple, budget: float, gemm: float, options: dict[str, object]) -> dict:
    x_train, x_test, code, georeferenced = data[:4]
    started = time.perf_counter()
    c, h, w = x_train.shape[1:]
    preprocess = PreprocessConfig(h, w, c, dtype="float32", value_range=(0.0, 1.0))
    config = architecture(ModelOptions(code_size=code, **options), preprocess, Corruption(), len(x_train))
    model = LatentModel.create(config, preprocess)
    settings = TrainConfig(epochs=1000, patience=30, time_budget=budget)
    augment = Augmentation.choose("auto", georeferenced=georeferenced, square=h == w)
    history = train(model, x_train, settings, augment=augment)
    ours = float(np.mean((model.reconstruct(x_test) - x_test) ** 2))
    pca = LinearCodec.fit(x_train, code)
    pca_mse = float(np.mean((pca.decode(pca.encode(x_test)) - x_test) ** 2))
    flops = 3 * count_flops(model.net, torch.from_numpy(x_train[:2]))  # forward + backward
    row = {
        "ours_mse": ours, "pca_mse": pca_mse, "ours_psnr": psnr(ours), "pca_psnr": psnr(pca_mse),
        "gain_db": psnr(ours) - psnr(pca_mse), "train_images_per_s": history.images_per_second,
        "gemm_fraction": (history.images_per_second or 0) * flops / 1e9 / gemm,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "seconds": time.perf_counter() - started, "kept": history.kept, "epochs": len(history.epochs),
        "train_images": len(x_train), "test_images": len(x_test), "code_size": code,
        "preset": {"family": config.family, "base_channels": config.base_channels, "stem": config.stem},
        "augment": augment.specs, "precision": history.precision, "validation": history.comparison,
    }
    if len(data) > 4:
        train_labels, test_labels = data[4:]
        ours_codes = (model.encode_inputs(x_train), model.encode_inputs(x_test))
        pca_codes = (pca.encode(x_train), pca.encode(x_test))
        row["ours_retrieval"] = retrieval(*ours_codes, train_labels, test_labels)
        row["pca_retrieval"] = retrieval(*pca_codes, train_labels, test_labels)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=600.0, help="Training seconds per data set.")
    parser.add_argument("--only", default="radar,photos,digits,shapes", help="Comma-separated data sets.")
    parser.add_argument("--set", default="", help="ModelOptions overrides, e.g. family=classic,linear_path=true.")
    args = parser.parse_args()
    makers = {"radar": radar, "photos": photos, "digits": digits, "shapes": shapes}
    options = overrides(args.set)
    dtype = resolve_precision("auto", resolve_device("auto"))
    gemm = gemm_gflops(dtype)
    result = {"budget_s": args.budget, "threads": torch.get_num_threads(), "precision": str(dtype),
              "gemm_gflops": gemm, "options": options, "datasets": {}}
    for name in args.only.split(","):
        result["datasets"][name] = run(name, makers[name](), args.budget, gemm, options)
        print(f"{name}: {json.dumps(result['datasets'][name])}", file=sys.stderr, flush=True)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
