"""Parameter checks declared once, named by their Python names, and written as flags by the command line."""

from __future__ import annotations

from typing import Annotated, Optional

import pytest
import typer

from latentatlas.checks import at_least, one_of, validated
from latentatlas.cli.common import in_flags, option_flags
from latentatlas.errors import UsageError


@validated(k=at_least(1), metric=one_of(("l2", "ip")))
def _top(queries: list, k: int = 10, metric: str = "l2") -> int:
    return k


def test_validated_checks_named_arguments_and_defaults():
    assert _top([], 3) == 3 and _top([], metric="ip") == 10
    with pytest.raises(UsageError, match="k must be >= 1, got 0") as caught:
        _top([], k=0)
    assert caught.value.parameter == "k"
    with pytest.raises(UsageError, match="metric must be one of l2, ip, got 'cos'"):
        _top([], 2, "cos")
    with pytest.raises(UsageError, match="k must be >= 1, got 2.5"):
        _top([], 2.5)
    with pytest.raises(TypeError, match="has no parameter nosuch"):
        validated(nosuch=at_least(1))(_top)


def _command(
    exclude_within: Annotated[Optional[str], typer.Option("--exclude-within")] = None,
    out: Annotated[Optional[str], typer.Option("--out", "-o")] = None,
    k: Annotated[int, typer.Option("-k", "--k")] = 10,
    max_pixels: Annotated[int, typer.Option()] = 1,
) -> None:
    """A command's options."""


def test_errors_name_the_commands_flags():
    flags = option_flags(_command)
    assert flags == {"exclude_within": "--exclude-within", "out": "--out", "k": "-k", "max_pixels": "--max-pixels"}
    assert in_flags(UsageError("k must be >= 1, got 0", parameter="k"), flags) == "-k must be >= 1, got 0"
    error = UsageError("give exactly one query: an image file, out or k (got out)", parameter=("out", "k"))
    assert in_flags(error, flags) == "give exactly one query: an image file, --out or -k (got out)"
    assert in_flags(UsageError("stored without out"), flags) == "stored without out"


def _options():
    from latentatlas.analogues.forecast import ForecastOptions
    from latentatlas.analogues.verify import VerifyOptions
    from latentatlas.demos.weather import WeatherSettings
    from latentatlas.ops.cluster import ClusterSettings
    from latentatlas.ops.codec import CompressOptions, DecompressOptions
    from latentatlas.ops.duplicates import DuplicatesOptions
    from latentatlas.ops.embed import EmbedOptions
    from latentatlas.ops.evaluate.codec import CodecEvalOptions
    from latentatlas.ops.evaluate.interpolation import TemporalOptions
    from latentatlas.ops.evaluate.space import SpaceSettings
    from latentatlas.ops.export import ExportOptions
    from latentatlas.ops.interpolate import InterpolateOptions
    from latentatlas.ops.project import ProjectSettings
    from latentatlas.ops.restore import RestoreSettings
    from latentatlas.ops.search import SearchOptions
    from latentatlas.search.ann import AnnSettings
    from latentatlas.search.neighbours import NeighbourOptions
    from latentatlas.server import ServerOptions

    return [
        (NeighbourOptions, {"k": 0}, "k"), (NeighbourOptions, {"exclude_within": "soon"}, "exclude_within"),
        (SearchOptions, {"metric": "hamming"}, "metric"), (SearchOptions, {"dtype": "int8"}, "dtype"),
        (DuplicatesOptions, {"threshold": -1.0}, "threshold"), (EmbedOptions, {"batch_size": 0}, "batch_size"),
        (EmbedOptions, {"engine": "spark"}, "engine"), (CompressOptions, {"dtype": "bfloat16"}, "dtype"),
        (DecompressOptions, {"batch_size": 0}, "batch_size"), (InterpolateOptions, {"steps": 1}, "steps"),
        (TemporalOptions, {"step": "0h"}, "step"), (ExportOptions, {"projection": "mds"}, "projection"),
        (ClusterSettings, {"max_iter": 0}, "max_iter"), (ProjectSettings, {"color_by": "month"}, "color_by"),
        (SpaceSettings, {"test_fraction": 1.5}, "test_fraction"), (RestoreSettings, {"stride": 0}, "stride"),
        (AnnSettings, {"nprobe": 0}, "nprobe"), (ForecastOptions, {"leads": "soon"}, "lead"),
        (ForecastOptions, {"thresholds": ("heavy",)}, "threshold"), (VerifyOptions, {"scales": (0,)}, "scales"),
        (VerifyOptions, {"every": "-6h"}, "every"), (CodecEvalOptions, {"formats": ("png",)}, "formats"),
        (CodecEvalOptions, {"dtypes": ()}, "dtypes"), (ServerOptions, {"query_memory": 0}, "query_memory"),
        (WeatherSettings, {"train_every": 0}, "train_every"),
    ]


@pytest.mark.parametrize("factory, values, parameter", _options(), ids=lambda v: getattr(v, "__name__", None))
def test_each_commands_options_refuse_a_bad_value_on_creation_naming_it(factory, values, parameter):
    with pytest.raises(UsageError) as caught:
        factory(**values)
    named = caught.value.parameter
    assert parameter in ((named,) if isinstance(named, str) else named)
    with pytest.raises(TypeError):
        factory(*values.values())  # keyword-only
    assert factory.__dataclass_params__.frozen


def test_options_come_whole_or_by_name_never_both():
    from latentatlas.checks import options_of
    from latentatlas.ops.interpolate import InterpolateOptions

    whole = InterpolateOptions(steps=3)
    assert options_of(InterpolateOptions, whole) is whole
    assert options_of(InterpolateOptions, None, steps=3) == whole
    with pytest.raises(UsageError, match="give InterpolateOptions or its fields by name \\(steps\\), not both"):
        options_of(InterpolateOptions, whole, steps=4)
    with pytest.raises(UsageError, match="unknown option\\(s\\) frames; known: spherical, steps") as caught:
        options_of(InterpolateOptions, None, frames=4)
    assert caught.value.parameter == ("frames",)
