"""Channel weights of analogue queries: the nearest codes re-ranked by the weighted distance of the decoded channels."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pytest

from latentatlas import Atlas
from latentatlas.errors import UsageError
from latentatlas.analogues import AnalogueOptions, Timeline, find_analogues
from latentatlas.analogues.find import RERANK_POOL
from latentatlas.analogues.options import parse_weights
from latentatlas.search.engine import EngineCache
from latentatlas.store import Store


@pytest.fixture(scope="module")
def stacked_atlas(tmp_path_factory):
    """Hourly two-channel fields (a moving blob in channel 0, noise in channel 1) and a small model on them."""
    rng = np.random.default_rng(5)
    n, size = 400, 16
    yy, xx = np.mgrid[:size, :size]
    fields = np.empty((n, size, size, 2), np.float32)
    for i in range(n):
        cy, cx = 8 + 5 * np.sin(i / 7), 8 + 5 * np.cos(i / 11)
        fields[i, ..., 0] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 8)
        fields[i, ..., 1] = rng.random((size, size))
    root = tmp_path_factory.mktemp("stacked")
    times = np.array([np.datetime64(datetime(2021, 1, 1) + timedelta(hours=i), "us") for i in range(n)])
    np.savez(root / "fields.npz", images=fields, times=times)
    path = root / "stacked.atlas"
    with Atlas.open(path) as atlas:
        atlas.build(root / "fields.npz", code_size=8, epochs=2, base_channels=8, value_range=(0.0, 1.0), seed=0,
                    progress=False)
    return path


def _brute(atlas: Atlas, query: int, k: int, weights: tuple[float, ...]) -> list[int]:
    """Among the RERANK_POOL nearest codes, the k nearest by the weighted MSE of the decoded channels."""
    ids, codes = atlas.store.vectors()
    code_distance = np.sqrt(((codes.astype(np.float64) - codes[query]) ** 2).sum(1))
    pool = np.lexsort((ids, code_distance))[:max(8 * k, RERANK_POOL)]
    decoded = atlas.model.decode(codes).astype(np.float64)
    share = np.asarray(weights) / sum(weights)
    weighted = ((decoded - decoded[query]) ** 2).mean(axis=(2, 3)) @ share
    return [int(ids[i]) for i in pool[np.lexsort((ids[pool], weighted[pool].astype(np.float32)))][:k]]


@pytest.mark.parametrize("weights", [(1.0, 0.0), (1.0, 1.0), (0.2, 3.0)])
def test_channel_weights_rank_as_a_brute_force_on_decoded_channels(stacked_atlas, weights):
    with Atlas.open(stacked_atlas, read_only=True) as atlas:
        found = atlas.search(id=200, k=12, channel_weights=",".join(map(str, weights)))
        assert [h.id for h in found.hits] == _brute(atlas, 200, 12, weights)
    assert found.hits[0].id == 200 and found.hits[0].distance < 1e-9  # itself, up to batch rounding of the decoder
    assert found.query["channel_weights"] == list(weights)


def test_weights_change_the_ranking_and_keep_a_minimum_separation(stacked_atlas):
    with Atlas.open(stacked_atlas, read_only=True) as atlas:
        blob = [h.id for h in atlas.search(id=50, k=10, channel_weights="1,0").hits]
        noise = [h.id for h in atlas.search(id=50, k=10, channel_weights="0,1").hits]
        apart = atlas.search(id=50, k=6, channel_weights="1,0", min_separation="12h")
    assert blob != noise
    times = np.array([h.time for h in apart.hits], "datetime64[us]")
    assert len(times) == 6 and np.abs(np.diff(np.sort(times))).min() >= np.timedelta64(12, "h")


def test_find_analogues_orders_its_pool_by_the_rerank(stacked_atlas):
    store = Store(stacked_atlas, read_only=True)
    try:
        engine = EngineCache().get(store, "l2", True, "float32")
        vector = engine.vectors(np.array([7]))[0]
        by_id = find_analogues(engine, Timeline.of(store), vector, 5, "l2", AnalogueOptions(), rerank=lambda ids: ids * 1.0)
    finally:
        store.close()
    assert by_id.ids.tolist() == [0, 1, 2, 3, 4]  # rows 0-4 lie among the 256 codes nearest to row 7
    assert by_id.distances.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_bad_weights_are_one_line_naming_the_flag(cli, error_line, stacked_atlas):
    assert parse_weights("1, 0.5") == (1.0, 0.5) and parse_weights(None) is None
    for text, message in (("1,x", "numbers separated by commas"), ("0,0", "not all 0"), ("1,-1", ">= 0")):
        with pytest.raises(UsageError, match=message):
            parse_weights(text)
    line = error_line(cli("search", "--atlas", stacked_atlas, "--id", 3, "--channel-weights", "1,1,1"), 2)
    assert line == "Error: --channel-weights has 3 weight(s); the atlas's fields have 2 channel(s)"
    line = error_line(cli("search", "--atlas", stacked_atlas, "--id", 30, "--channel-weights", "1,1", "--trend", "2h"), 2)
    assert "--channel-weights cannot be combined with --trend" in line
    result = json.loads(cli("search", "--atlas", stacked_atlas, "--id", 30, "-k", 3, "--channel-weights", "1,0",
                            "--json").stdout)
    assert result["query"]["channel_weights"] == [1.0, 0.0] and len(result["results"]) == 3


def test_forecast_and_its_verification_take_the_weights(cli, stacked_atlas):
    with Atlas.open(stacked_atlas, read_only=True) as atlas:
        weighted = atlas.forecast("2021-01-09 08:00", leads="1h", k=5, channel_weights="1,0")
        direct = atlas.search(id=200, k=5, channel_weights="1,0", exclude_within="1h")
        report = atlas.evaluate_analogues("2021-01-15/2021-01-16", leads="1h", k=5, channel_weights="1,0",
                                          progress=False)
    assert weighted.analogues.ids.tolist() == [h.id for h in direct.hits]
    assert report.hours == 24
    result = cli("forecast", "--atlas", stacked_atlas, "--time", "2021-01-09 08:00", "--lead", "1h", "-k", 3,
                 "--channel-weights", "1,0", "--json")
    assert result.exit_code == 0, result.output
