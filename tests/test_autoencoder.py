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
    assert y.shape == x.shape


def test_widths_double_up_to_the_cap():
    config = AutoencoderConfig(3, 3, 64, 64, base_channels=32, max_channels=128)
    assert config.widths == [32, 64, 128, 128, 128]


def test_in_and_out_channels_may_differ():
    net = ConvAutoencoder(AutoencoderConfig(1, 3, 16, 16, code_size=8, norm="none"))
    assert net(torch.rand(1, 1, 16, 16)).shape == (1, 3, 16, 16)


@pytest.mark.parametrize("kwargs, message", [
    (dict(code_size=0), "code_size must be a whole number from 1 to"),
    (dict(norm="layer"), "norm must be one of batch, none"),
    (dict(output="tanh"), "output must be one of sigmoid, identity"),
    (dict(output="sigmoid"), "linear path adds to the output"),
])
def test_bad_architecture_is_named(kwargs, message):
    with pytest.raises(UsageError, match=message):
        AutoencoderConfig(1, 1, 8, 8, **kwargs)


def test_config_round_trips():
    config = AutoencoderConfig(3, 3, 32, 32, code_size=50)
    assert AutoencoderConfig.from_dict(config.to_dict()) == config


def test_the_linear_path_starts_as_pca(rng):
    from sklearn.decomposition import PCA

    x = torch.from_numpy(rng.random((200, 1, 8, 8)).astype("float32"))
    net = ConvAutoencoder(AutoencoderConfig(1, 1, 8, 8, code_size=5)).eval()
    net.initialise_linear_path(x, x)
    flat = x.reshape(200, -1).numpy()
    pca = PCA(5).fit(flat)
    expected = pca.inverse_transform(pca.transform(flat))
    with torch.no_grad():
        reconstruction = net(x).reshape(200, -1).numpy()
    assert abs(reconstruction - expected).max() < 1e-4


def test_the_linear_path_maps_to_other_targets_by_least_squares(rng):
    x = torch.from_numpy(rng.random((100, 1, 8, 8)).astype("float32"))
    y = torch.cat([x, 1 - x, 0.5 * x], dim=1)  # a linear function of x: exactly learnable
    net = ConvAutoencoder(AutoencoderConfig(1, 3, 8, 8, code_size=64)).eval()
    net.initialise_linear_path(x, y)
    with torch.no_grad():
        assert abs(net(x) - y).max() < 1e-3


def test_plain_model_needs_no_linear_path_and_linear_path_needs_identity_output():
    assert ConvAutoencoder(AutoencoderConfig(1, 1, 8, 8, linear_path=False, output="sigmoid")).decoder[-1].__class__.__name__ == "Sigmoid"
    with pytest.raises(UsageError, match="output must be 'identity'"):
        AutoencoderConfig(1, 1, 8, 8, output="sigmoid")


@pytest.mark.parametrize("levels, blocks, grid", [(0, 2, (16, 16)), (2, 1, (4, 4))])
def test_the_conv_bottleneck_keeps_a_feature_map_and_starts_as_the_identity(levels, blocks, grid):
    config = AutoencoderConfig(1, 3, 16, 16, bottleneck="conv", levels=levels, blocks=blocks, residual=True,
                               linear_path=False, base_channels=8)
    assert config.grid == grid
    net = ConvAutoencoder(config).eval()
    x = torch.rand(2, 1, 16, 16)
    assert net.encode(x).shape == (2, config.widths[-1], *grid)
    with torch.no_grad():
        torch.testing.assert_close(net(x), x.expand(-1, 3, -1, -1))  # the grey input in every channel
    assert len([m for m in net.encoder if isinstance(m, torch.nn.Conv2d)]) == 1 + 2 * levels + blocks


@pytest.mark.parametrize("kwargs, message", [
    (dict(bottleneck="conv"), "use --no-linear-path"),
    (dict(bottleneck="dense", linear_path=False), "bottleneck must be one of linear, conv"),
    (dict(residual=True, linear_path=False, output="identity"), "residual prediction needs the conv bottleneck"),
    (dict(bottleneck="conv", linear_path=False, levels=4), "levels must be >= 0 and halve 8x8 evenly"),
    (dict(bottleneck="conv", linear_path=False, blocks=-1), "blocks must be >= 0"),
])
def test_bad_bottlenecks_are_named(kwargs, message):
    with pytest.raises(UsageError, match=message):
        AutoencoderConfig(1, 1, 8, 8, **kwargs)


def test_configs_written_before_the_conv_bottleneck_stay_the_same():
    """Older model files lack the later fields; a default model writes none of them, so its fingerprint holds."""
    old_keys = {"in_channels", "out_channels", "height", "width", "code_size", "base_channels", "max_channels",
                "norm", "output", "linear_path"}
    config = AutoencoderConfig(3, 3, 32, 32)
    assert set(config.to_dict()) == old_keys
    assert AutoencoderConfig.from_dict({k: v for k, v in config.to_dict().items() if k in old_keys}) == config
    conv = AutoencoderConfig(3, 3, 32, 32, bottleneck="conv", levels=0, linear_path=False, residual=True)
    assert {"bottleneck", "levels", "residual"} <= set(conv.to_dict()) and "blocks" not in conv.to_dict()
    assert AutoencoderConfig.from_dict(conv.to_dict()) == conv


def test_a_model_saved_by_release_0_1_loads_with_its_fingerprint():
    from pathlib import Path

    from latentatlas.models import load_model

    model = load_model(Path(__file__).parent / "data" / "model-0.1")
    assert model.fingerprint == "3f8c9c3c29b5cb96" and model.architecture.family == "classic"


@pytest.mark.parametrize("height, width, stem, grid", [(64, 64, 2, (4, 4)), (64, 112, 2, (4, 7)), (8, 8, 1, (4, 4)),
                                                     (128, 128, 4, (4, 4))])
def test_the_residual_family_keeps_shapes(height, width, stem, grid):
    config = AutoencoderConfig(3, 3, height, width, code_size=16, base_channels=8, norm="none", linear_path=False,
                               family="residual", stem=stem)
    net = ConvAutoencoder(config)
    x = torch.rand(2, 3, height, width)
    assert config.grid == grid and net.encode(x).shape == (2, 16) and net(x).shape == x.shape


def test_the_residual_family_names_a_stem_that_does_not_divide():
    with pytest.raises(UsageError, match="stem 4 must divide the input size 6x8"):
        AutoencoderConfig(1, 1, 6, 8, family="residual", stem=4)
