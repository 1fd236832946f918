"""FLOP counting on layers whose cost is known by hand."""

from __future__ import annotations

import torch
from torch import nn

from latentatlas.models import AutoencoderConfig, ConvAutoencoder
from latentatlas.models.flops import count_flops


def test_known_layers():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_flops(conv, torch.zeros(2, 3, 10, 10)) == 2 * 8 * 10 * 10 * 3 * 9
    up = nn.ConvTranspose2d(8, 4, 4, 2, 1)
    assert count_flops(up, torch.zeros(1, 8, 5, 5)) == 2 * 8 * 5 * 5 * 4 * 16
    assert count_flops(nn.Linear(10, 3), torch.zeros(4, 10)) == 60


def test_encoder_and_decoder_of_the_autoencoder_add_up():
    net = ConvAutoencoder(AutoencoderConfig(3, 3, 32, 32, base_channels=8))
    x = torch.zeros(2, 3, 32, 32)
    encoder = count_flops(net.encoder, x)
    decoder = count_flops(net.decoder, net.encode(x))
    assert encoder > 0 and decoder > 0
    assert count_flops(net, x) == encoder + decoder
