"""Rate–distortion of latent codes beside PCA, JPEG and WebP on held-out photo tiles, and codec speed.

Whole photographs are held out: the model and PCA are trained on
overlapping tiles (``--train-stride``) of the other photographs only, so no
training tile overlaps a held-out one. The model trains for a fixed time
budget. Prints one JSON document:
``{"rows": [...], "compress_images_per_s": ..., "decompress_images_per_s": ..., ...}``.

Run: ``.venv/bin/python bench/codec.py [--time-budget 300] [--plot docs/codec_rd.png]``;
``--time-budget 20 --train-stride 64`` makes a quick run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from latentatlas import Atlas
from shared import HELD_OUT, export_tiles, training_summary

def timed_rate(run, images: int) -> float:
    """Images per second of the faster of two runs (the first warms up)."""
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return images / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-budget", type=float, default=300.0, help="Training seconds.")
    parser.add_argument("--held-out", default=",".join(HELD_OUT), help="Photographs held out, comma-separated.")
    parser.add_argument("--train-stride", type=int, default=32, help="Stride of the training tiles (64: no overlap).")
    parser.add_argument("--code-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, help="Write the rate-distortion plot here.")
    parser.add_argument("--work", type=Path, help="Keep the tiles and the atlas here (default: a temporary folder).")
    args = parser.parse_args()
    held_out = set(args.held_out.split(","))

    with tempfile.TemporaryDirectory() as scratch:
        root = args.work or Path(scratch)
        train, test, n_train, n_test = export_tiles(held_out, root, stride=args.train_stride)
        print(f"{n_train} training tiles, {n_test} held-out tiles", file=sys.stderr)
        with Atlas.open(root / "bench.atlas") as atlas:
            fitted, embedded = atlas.build(train, overwrite=True, code_size=args.code_size, epochs=1000, patience=20,
                                           time_budget=args.time_budget, seed=args.seed)
            evaluation = atlas.evaluate_codec(test, pca_train=train)
            compress_rate = timed_rate(lambda: atlas.compress(test, root / "codes", dtype="float16"), n_test)
            decompress_rate = timed_rate(lambda: atlas.decompress(root / "codes", root / "restored"), n_test)
        result = evaluation.to_dict()
        if args.plot:
            from latentatlas.pictures.grids import rate_distortion_figure, save_png

            save_png(rate_distortion_figure(result), args.plot)

    ours = evaluation.row("latent", "float16")
    pca = evaluation.row("pca", "float16")
    best_image_codec = max((evaluation.row(name, "float16") for name in ("jpeg", "webp")), key=lambda r: r.psnr)
    history = fitted.history
    print(json.dumps({
        "rows": result["rows"],
        "compress_images_per_s": round(compress_rate, 1),
        "decompress_images_per_s": round(decompress_rate, 1),
        "float16_vs_pca_db": round(ours.psnr - pca.psnr, 3),
        "float16_vs_best_image_codec_db": round(ours.psnr - best_image_codec.psnr, 3),
        "best_image_codec_at_float16": best_image_codec.method,
        "beats_pca": ours.psnr > pca.psnr,
        "beats_jpeg_and_webp": ours.psnr > best_image_codec.psnr,
        "curves": result["curves"],
        "pca": result["pca"],
        "held_out_photos": sorted(held_out),
        "train_tiles": n_train,
        "held_out_tiles": n_test,
        **training_summary(history, args.time_budget),
        "code_size": args.code_size,
        "seed": args.seed,
    }))


if __name__ == "__main__":
    main()
