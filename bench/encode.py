"""Encode and decode throughput of the default model beside this machine's GEMM FLOP rate.

Prints one JSON document. Run: ``.venv/bin/python bench/encode.py [--batch 256] [--size 64]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from latentatlas.models import AutoencoderConfig, LatentModel
from latentatlas.models.flops import count_flops
from latentatlas.models.preprocess import PreprocessConfig


def timed(fn, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_gflops(n: int = 2048, repeats: int = 10) -> float:
    """Measured float32 matrix-multiply rate of this machine (all threads)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / timed(lambda: a @ b, repeats) / 1e9


class _Encoder(torch.nn.Module):
    """The encoder half, linear path included, as one module for FLOP counting."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.encode(x)


class _Decoder(_Encoder):
    def forward(self, code):
        return self.net.decode(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    config = AutoencoderConfig(args.channels, args.channels, args.size, args.size)
    preprocess = PreprocessConfig(height=args.size, width=args.size, channels=args.channels)
    model = LatentModel.create(config, preprocess)
    x = np.random.default_rng(0).random((args.batch, args.channels, args.size, args.size), np.float32)
    codes = model.encode_inputs(x)
    example = torch.from_numpy(x)
    encoder_flops = count_flops(_Encoder(model.net), example)
    decoder_flops = count_flops(_Decoder(model.net), torch.from_numpy(codes))
    gemm = gemm_gflops()
    encode_s = timed(lambda: model.encode_inputs(x, args.batch), args.repeats)
    decode_s = timed(lambda: model.decode(codes, args.batch), args.repeats)
    gemm_after = gemm_gflops()

    encode_rate = args.batch / encode_s
    result = {
        "encode_images_per_s": round(encode_rate, 1),
        "decode_images_per_s": round(args.batch / decode_s, 1),
        "gemm_gflops": round(max(gemm, gemm_after), 1),
        "model_gflop_per_image": round((encoder_flops + decoder_flops) / 1e9, 4),
        "encoder_gflop_per_image": round(encoder_flops / 1e9, 4),
        "decoder_gflop_per_image": round(decoder_flops / 1e9, 4),
        "encoder_gflops": round(encode_rate * encoder_flops / 1e9, 1),
        "decoder_gflops": round(args.batch / decode_s * decoder_flops / 1e9, 1),
        "encoder_fraction_of_gemm": round(encode_rate * encoder_flops / 1e9 / max(gemm, gemm_after), 3),
        "batch": args.batch,
        "input_shape": [args.channels, args.size, args.size],
        "code_size": config.code_size,
        "base_channels": config.base_channels,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
