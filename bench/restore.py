"""Denoising on held-out photo tiles: our restoration model beside Gaussian blur, median and non-local means.

Whole photographs are held out: the model (``--bottleneck conv``) trains
on small overlapping tiles (``--tile``, ``--train-stride``) of the other
photographs for a fixed time budget, with Gaussian noise of sigma 0.1 drawn
afresh for every batch. The sigma is on the [0, 1] scale the model sees,
25.5 of 255: the same pixel sigma as the article's 0.1 on images scaled to
[-0.5, 0.5]. The model is then evaluated (``evaluate restore``) on the
64x64 tiles of the held-out photographs, each restored in overlapping
tiles, at sigma 0.1 and at 25/255 for comparison with the literature; the
classic baselines are tuned on 30 % of those tiles and every method is
scored on the rest. Prints one JSON document:
``{"rows": [{"sigma", "method", "psnr", "ssim", "parameter"}, ...], ...}``.

Run: ``.venv/bin/python bench/restore.py [--time-budget 240] [--grid docs/restore/photos_noise.png]``;
``--time-budget 20`` makes a quick run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from latentatlas import Atlas
from latentatlas.threads import idle_cores
from shared import HELD_OUT, export_tiles, training_summary

SIGMAS = {"0.1": 0.1, "25/255": 25 / 255}
METHODS = {"corrupted": "noisy", "ours": "ours", "gaussian": "gaussian", "median": "median", "nlmeans": "nlmeans"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-budget", type=float, default=240.0, help="Training seconds.")
    parser.add_argument("--held-out", default=",".join(HELD_OUT), help="Photographs held out, comma-separated.")
    parser.add_argument("--tile", type=int, default=32, help="Training tile size (the model's input size).")
    parser.add_argument("--train-stride", type=int, default=32, help="Stride of the training tiles.")
    parser.add_argument("--base-channels", type=int, default=48)
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--levels", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=4, help="Small batches learned most per image seen.")
    parser.add_argument("--lr", type=float, default=1e-3, help="Peak learning rate.")
    parser.add_argument("--loss", default="mse")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="PyTorch threads (default: the idle cores at the start).")
    parser.add_argument("--grid", type=Path, help="Write the picture of the sigma 0.1 evaluation here.")
    parser.add_argument("--work", type=Path, help="Keep the tiles and the atlas here (default: a temporary folder).")
    args = parser.parse_args()
    held_out = set(args.held_out.split(","))
    import torch

    threads = args.threads or idle_cores()
    torch.set_num_threads(threads)

    with tempfile.TemporaryDirectory() as scratch:
        root = args.work or Path(scratch)
        train, test, n_train, n_test = export_tiles(held_out, root, args.tile, args.train_stride)
        print(f"{n_train} training tiles, {n_test} held-out tiles, {threads} threads", file=sys.stderr)
        with Atlas.open(root / "restore.atlas") as atlas:
            fitted = atlas.fit(train, overwrite=True, corrupt=["noise:0.1"], bottleneck="conv",
                               base_channels=args.base_channels, blocks=args.blocks, levels=args.levels,
                               batch_size=args.batch_size, learning_rate=args.lr, loss=args.loss,
                               epochs=1000, patience=1000, val_fraction=0.05, time_budget=args.time_budget,
                               seed=args.seed)
            evaluations = {
                name: atlas.evaluate_restore(test, corrupt=[f"noise:{sigma!r}"], seed=args.seed,
                                             out=args.grid if name == "0.1" else None)
                for name, sigma in SIGMAS.items()
            }

    rows = [{"sigma": name, "method": METHODS[row.method], "psnr": round(row.psnr, 3), "ssim": round(row.ssim, 4),
             "parameter": row.parameter}
            for name, evaluation in evaluations.items() for row in evaluation.rows]
    main_eval = evaluations["0.1"]
    ours, noisy = main_eval.row("ours"), main_eval.row("corrupted")
    best = main_eval.row(main_eval.best_baseline)
    history = fitted.history
    print(json.dumps({
        "rows": rows,
        "gain_over_noisy_db": round(ours.psnr - noisy.psnr, 3),
        "gain_over_best_baseline_db": round(ours.psnr - best.psnr, 3),
        "best_baseline": best.method,
        "targets_met": {"5db_over_noisy": ours.psnr - noisy.psnr >= 5.0, "above_best_baseline": ours.psnr > best.psnr},
        "held_out_photos": sorted(held_out),
        "train_tiles": n_train,
        "held_out_tiles": n_test,
        "scored_tiles": main_eval.images,
        "tuning_tiles": main_eval.tuned_on,
        **training_summary(history, args.time_budget),
        "model": {"tile": args.tile, "base_channels": args.base_channels, "blocks": args.blocks,
                  "levels": args.levels, "batch_size": args.batch_size, "lr": args.lr, "loss": args.loss},
        "threads": threads,
        "grid": None if args.grid is None else str(args.grid),
        "seed": args.seed,
    }))


if __name__ == "__main__":
    main()
