"""The autoencoder: depth from input size, shapes, configuration checks."""

from __future__ import annotations

import pytest
import torch

from latentatlas.errors import UsageError
from latentatlas.models import AutoencoderConfig, ConvAutoencoder


@pytest.mark.parametrize("height, width, depth, grid", [
    (8, 8, 1, (4, 4)), (16, 16, 2, (4, 4)), (28, 28, 2, (7, 7)), (64, 64, 4, (4, 4)),
    (48, 64, 3, (6, 8)), (6, 6, 0, (6, 6)), (32, 8, 1, (16, 4)),
])
def test_depth_halves_until_a_small_grid(height, width, depth, grid):
    config = AutoencoderConfig(in_channels=1, out_channels=1, height=height, width=width)
    assert (config.depth, config.grid) == (depth, grid)
    net = ConvAutoencoder(config)
    x = torch.rand(2, 1, height, width)
    code = net.encode(x)
    assert code.shape == (2, 64)
    y = net.decode(code)
    assert y.shape == x.shape and 0.0 <= y.min().item() and y.max().item() <= 1.0


def test_widths_double_up_to_the_cap():
    config = AutoencoderConfig(3, 3, 64, 64, base_channels=32, max_channels=128)
    assert config.widths == [32, 64, 128, 128, 128]


def test_in_and_out_channels_may_differ_and_identity_output_is_unbounded():
    net = ConvAutoencoder(AutoencoderConfig(1, 3, 16, 16, code_size=8, output="identity", norm="none"))
    assert net(torch.rand(1, 1, 16, 16)).shape == (1, 3, 16, 16)


@pytest.mark.parametrize("kwargs, message", [
    (dict(code_size=0), "code_size must be >= 1"),
    (dict(norm="layer"), "norm must be one of batch, none"),
    (dict(output="tanh"), "output must be one of sigmoid, identity"),
])
def test_bad_architecture_is_named(kwargs, message):
    with pytest.raises(UsageError, match=message):
        AutoencoderConfig(1, 1, 8, 8, **kwargs)


def test_config_round_trips():
    config = AutoencoderConfig(3, 3, 32, 32, code_size=50)
    assert AutoencoderConfig.from_dict(config.to_dict()) == config
