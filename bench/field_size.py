"""What a field's input size buys: analogue skill and training cost at 64, 128 and 256 pixels on the long side.

A generated period of radar on a 144x256 grid (90 days, hourly) is read at
each input size the way ``fit`` reads fields (the model's preprocessing,
resized); analogues are found in raw pixels and in PCA with 50 numbers at
that size, and their futures are verified at the full 144x256 grid (fair
CRPS in dBZ of k = 20 ensembles at +1, +3, +6 and +12 h; the last 15 days
forecast, every second hour, the first 75 days the archive). Beside it, the
training rate of the default network (code 50) at each size, in images per
second over a fixed number of steps on this machine.

Prints one JSON document ``{"sizes": {"64": {"shape", "crps": {space: {lead: ...}}, "train_images_per_s"}}}``.

Run: ``.venv/bin/python bench/field_size.py [--days 90] [--steps 30]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta

import numpy as np
import torch

from latentatlas.analogues.spaces import crps_by_space
from latentatlas.baselines.codec import LinearCodec
from latentatlas.datasets.radar import RadarYear
from latentatlas.models import Corruption, LatentModel
from latentatlas.models.options import ModelOptions, architecture
from latentatlas.models.preprocess import PreprocessConfig, Preprocessor
from latentatlas.models.train import TrainConfig, train

GRID = (144, 256)
SIDES = (64, 128, 256)
LEADS = [timedelta(hours=h) for h in (1, 3, 6, 12)]
TEST_DAYS = 15


def read_at(fields: np.ndarray, side: int) -> tuple[np.ndarray, PreprocessConfig]:
    """The fields as model inputs with ``side`` pixels on the long side, as ``fit --size`` reads them."""
    height = round(GRID[0] * side / GRID[1])
    config = PreprocessConfig.infer(list(fields[:8]), size=(height, side), value_range=(0.0, 60.0))
    preprocessor = Preprocessor(config)
    return np.stack([preprocessor(field) for field in fields]), config


def training_rate(inputs: np.ndarray, config: PreprocessConfig, steps: int) -> float:
    """Images per second of the default network (code 50) over ``steps`` steps of 64 images."""
    model = LatentModel.create(architecture(ModelOptions(code_size=50), config, Corruption(), len(inputs)), config)
    sample = inputs[: 64 * steps]
    history = train(model, sample, TrainConfig(epochs=1, val_fraction=0.0))
    return float(history.images_per_second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--steps", type=int, default=30, help="Training steps timed per size.")
    args = parser.parse_args()
    year = RadarYear(seed=0, days=args.days, grid=GRID)
    fields = np.clip(np.stack(list(year.fields())), 0, 60).astype(np.float32)
    times = np.array(year.times, "datetime64[us]")
    test = times >= times[-1] - np.timedelta64(TEST_DAYS * 24 - 1, "h")
    test &= (np.arange(len(times)) % 2) == 0
    archive = ~(times >= times[-1] - np.timedelta64(TEST_DAYS * 24 - 1, "h"))  # PCA learns from these
    result = {"grid": list(GRID), "days": args.days, "test_days": TEST_DAYS, "threads": torch.get_num_threads(),
              "sizes": {}}
    for side in SIDES:
        started = time.perf_counter()
        inputs, config = read_at(fields, side)
        flat = inputs.reshape(len(inputs), -1)
        pca = LinearCodec.fit(inputs[archive], 50)
        scored = crps_by_space({"pixels": flat, "pca": pca.encode(inputs)}, fields, times, test, leads=LEADS, k=20)
        result["sizes"][str(side)] = {
            "shape": [config.height, config.width], "crps": scored["crps"], "forecasts": scored["forecasts"],
            "train_images_per_s": training_rate(inputs[archive], config, args.steps),
            "seconds": time.perf_counter() - started,
        }
        print(f"{side}: {json.dumps(result['sizes'][str(side)])}", file=sys.stderr, flush=True)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
