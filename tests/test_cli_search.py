"""End to end through the CLI: search options, batches, index, duplicates, ORB features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from latentatlas.sources import ReaderOptions, read_image, write_image


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_index_then_search_uses_it_and_exact_forces_the_scan(cli, vector_atlas):
    built = _json(cli("index", "--atlas", vector_atlas, "--kind", "hnsw", "--json"))
    assert built["kind"] == "hnsw" and built["rows"] == 1200 and (vector_atlas / "index" / "ann" / "index.faiss").is_file()
    found = _json(cli("search", "--atlas", vector_atlas, "--id", "17", "-k", "5", "--json"))
    assert found["query"]["engine"] == "hnsw" and found["results"][0] == {
        "id": 17, "uri": "/data/00017.png", "label": found["results"][0]["label"], "time": "2024-01-01T17:00:00",
        "distance": 0.0}
    exact = _json(cli("search", "--atlas", vector_atlas, "--id", "17", "-k", "5", "--exact", "--json"))
    assert exact["query"]["engine"] == "exact" and exact["results"] == found["results"]
    window = _json(cli("search", "--atlas", vector_atlas, "--id", "17", "-k", "5", "--exclude-within", "2d", "--json"))
    assert len(window["results"]) == 5 and all(r["id"] > 17 + 48 for r in window["results"])
    removed = _json(cli("index", "--atlas", vector_atlas, "--remove", "--json"))
    assert removed == {"removed": True} and not (vector_atlas / "index" / "ann").exists()


def test_a_where_that_matches_no_row_says_so_instead_of_an_empty_table(cli, vector_atlas):
    empty = cli("search", "--atlas", vector_atlas, "--id", "17", "--where", "label = 'none'")
    assert empty.exit_code == 0 and empty.stdout == ""
    assert empty.stderr == "No stored row matches --where label = 'none'.\n"
    assert _json(cli("search", "--atlas", vector_atlas, "--id", "17", "--where", "label = 'none'", "--json"))["results"] == []


def test_batch_search_from_a_file_and_for_all_rows(cli, vector_atlas, tmp_path):
    import pyarrow.parquet as pq

    ids = tmp_path / "ids.txt"
    ids.write_text("3\n5, 8\n")
    found = _json(cli("search", "--atlas", vector_atlas, "--ids-from", ids, "-k", "2", "--metric", "cosine", "--json"))
    assert found["queries"] == 3 and [r["query_id"] for r in found["results"]] == [3, 3, 5, 5, 8, 8]
    assert [r["id"] for r in found["results"]][::2] == [3, 5, 8]
    out = tmp_path / "neighbours.parquet"
    summary = _json(cli("search", "--atlas", vector_atlas, "--all", "-k", "3", "--exclude-self", "--out", out, "--json"))
    assert summary["out"] == str(out) and "results" not in summary
    table = pq.read_table(out)
    assert table.num_rows == 1200 * 3 and table.column_names == ["query_id", "rank", "id", "distance"]
    assert (table.column("query_id").to_numpy() != table.column("id").to_numpy()).all()


@pytest.mark.parametrize("args, message", [
    (["--all"], "--all needs --out"),
    (["--all", "--id", "3", "--out", "x.parquet"], "takes no query image, --id, --vector or --time"),
    (["--id", "3", "--out", "x.parquet"], "--out FILE.parquet goes with a batch search"),
    (["--id", "3", "--exclude-within", "one day"], "--exclude-within must be a duration"),
    (["--vector", ",".join(["0"] * 8), "--exclude-within", "1d"], "needs a query with a time"),
    (["--id", "3", "--metric", "manhattan"], "metric must be one of l2, sqeuclidean, cosine, ip"),
    (["--all", "--out", "graph.png"], "writes its neighbours as Parquet: --out must end in .parquet, got graph.png"),
    (["--id", "3", "--exclude-self"], "--exclude-self goes with a batch search"),
    (["--id", "3", "--time", "2024-01-01 03:00"], "give exactly one query: an image file, --id, --vector or --time"),
    (["--id", "3", "--tile-row", "0", "--tile-col", "0"], "--tile-row and --tile-col pick the tile of a query by --time"),
    (["--id", "3", "--colormap", "viridis"], "--colormap colours the picture of --out FILE.png"),
    (["--all", "--out", "g.parquet", "--colormap", "viridis"], "--colormap goes with the picture of one query"),
])
def test_search_usage_errors(cli, vector_atlas, args, message):
    result = cli("search", "--atlas", vector_atlas, *args)
    assert result.exit_code == 2 and message in result.stderr and result.stderr.startswith("Error: ")


def test_index_errors_are_one_line(cli, vector_atlas, tmp_path):
    bad = cli("index", "--atlas", vector_atlas, "--kind", "lsh")
    assert bad.exit_code == 2 and "kind must be one of hnsw, ivfpq" in bad.stderr
    from latentatlas.store import Store

    Store(tmp_path / "empty.atlas").close()
    empty = cli("index", "--atlas", tmp_path / "empty.atlas")
    assert empty.exit_code == 2 and "no codes to index" in empty.stderr


def test_duplicates_on_real_digits(cli, atlas_copy, digits_dir, tmp_path):
    none = _json(cli("duplicates", "--atlas", atlas_copy, "--threshold", "0.01", "--json"))
    assert none["groups"] == [] and none["rows"] == 300
    copies = tmp_path / "copies"
    original = sorted((digits_dir / "4").glob("*.png"))[0]
    copies.mkdir()
    (copies / "same.png").write_bytes(original.read_bytes())
    changed = read_image(original).copy()
    changed[0, 0] = min(255, int(changed[0, 0]) + 1)
    write_image(copies / "changed.png", changed)
    _json(cli("embed", copies, "--atlas", atlas_copy, "--json"))
    found = _json(cli("duplicates", "--atlas", atlas_copy, "--threshold", "0.01", "--json"))
    groups = [(g["kind"], sorted(u.rsplit("/", 1)[1] for u in g["uris"])) for g in found["groups"]]
    assert ("exact", sorted([original.name, "same.png"])) in groups
    assert ("near", sorted([original.name, "same.png", "changed.png"])) in groups and len(groups) == 2
    table = cli("duplicates", "--atlas", atlas_copy, "-t", "0.01")
    assert table.exit_code == 0 and "2 groups among 302 rows" in table.stdout


def _transformed(image: np.ndarray, angle: float, scale: float, crop: float) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    turned = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale), (w, h))
    margin = int(h * (1 - crop) / 2)
    return turned[margin:h - margin, margin:w - margin]


def test_orb_search_ranks_a_rotated_scaled_cropped_copy_first(cli, tmp_path):
    import cv2
    from skimage import data

    names = ["astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "brick", "gravel", "clock"]
    for name in names:
        write_image(tmp_path / "photos" / f"{name}.png", cv2.resize(getattr(data, name)(), (256, 256)))
    _store_rows(tmp_path / "photos.atlas", tmp_path / "photos", ReaderOptions())
    indexed = _json(cli("features", "index", "--atlas", tmp_path / "photos.atlas", "--json"))
    assert indexed["indexed"] == len(names) and indexed["keypoints"] > 1000
    query = write_image(tmp_path / "query.png", _transformed(read_image(tmp_path / "photos" / "coffee.png"), 30, 0.7, 0.8))
    drawn = tmp_path / "matches.png"
    found = _json(cli("features", "search", query, "--atlas", tmp_path / "photos.atlas", "-k", "3", "--out", drawn, "--json"))
    results = found["results"]
    assert results[0]["label"] == "coffee" and results[0]["inliers"] >= 20
    assert all(r["inliers"] < results[0]["inliers"] / 3 for r in results[1:])
    assert found["out"] == str(drawn) and read_image(drawn).shape[1] > 256
    homography = _json(cli("features", "search", query, "--atlas", tmp_path / "photos.atlas", "--transform", "homography", "--json"))
    assert homography["results"][0]["label"] == "coffee"
    again = _json(cli("features", "index", "--atlas", tmp_path / "photos.atlas", "--json"))
    assert again["indexed"] == 0 and again["total"] == len(names)
    other = cli("features", "index", "--atlas", tmp_path / "photos.atlas", "--max-features", "200")
    assert other.exit_code == 2 and "pass --rebuild" in other.stderr


def _store_rows(atlas, source, options):
    """An atlas holding a row (zero code, the file's stem as label) for each record of ``source``, without a model."""
    from latentatlas.store.schema import READER_SETTING
    from latentatlas.sources import read_source
    from latentatlas.store import ImageRow, Store

    records = read_source(source, options).records
    rows = [ImageRow(uri=r.uri, sha256=r.sha256, width=256, height=256, label=Path(r.uri).stem,
                     tile_row=r.tile_row, tile_col=r.tile_col) for r in records]
    store = Store(atlas)
    store.set_setting(READER_SETTING, options.to_dict())
    store.ensure_embeddings(4)
    store.add(rows, np.zeros((len(rows), 4), np.float32))
    store.close()


def test_orb_features_of_a_tiled_atlas_are_the_tiles_and_a_changed_file_is_named(cli, tmp_path):
    from skimage import data

    write_image(tmp_path / "photos" / "astronaut.png", data.astronaut()[:256, :256])
    write_image(tmp_path / "photos" / "camera.png", data.camera()[:256, :256])
    _store_rows(tmp_path / "tiles.atlas", tmp_path / "photos", ReaderOptions(tile=128))
    write_image(tmp_path / "photos" / "camera.png", data.camera()[256:, 256:])  # changed since it was stored
    indexed = _json(cli("features", "index", "--atlas", tmp_path / "tiles.atlas", "--json"))
    assert indexed["indexed"] == 4 and indexed["total"] == 4
    assert {f["uri"] for f in indexed["failures"]} == {str((tmp_path / "photos" / "camera.png").resolve())}
    assert all("changed since it was embedded" in f["reason"] for f in indexed["failures"])
    stored = _json(cli("sql", "--atlas", tmp_path / "tiles.atlas", "--json",
                       "SELECT DISTINCT width, height FROM orb_features"))
    assert stored["rows"] == [{"width": 128, "height": 128}]  # a tile each, not the whole photograph
    query = write_image(tmp_path / "query.png", data.astronaut()[128:256, 0:128])
    found = _json(cli("features", "search", query, "--atlas", tmp_path / "tiles.atlas", "-k", "1", "--json"))
    best = _json(cli("sql", "--atlas", tmp_path / "tiles.atlas", "--json",
                     f"SELECT tile_row, tile_col FROM images WHERE id = {found['results'][0]['id']}"))
    assert best["rows"] == [{"tile_row": 1, "tile_col": 0}]


def test_orb_candidates_chosen_by_embedding(cli, atlas_copy, digits_dir):
    _json(cli("features", "index", "--atlas", atlas_copy, "--json"))
    query = sorted((digits_dir / "3").glob("*.png"))[2]
    found = _json(cli("features", "search", query, "--atlas", atlas_copy, "--candidates", "20", "--json"))
    assert found["query"]["candidates"] == 20 and found["results"][0]["uri"] == str(query.resolve())
    bad = cli("features", "search", query, "--atlas", atlas_copy, "--candidates", "0")
    assert bad.exit_code == 2 and "candidates must be >= 1" in bad.stderr


def test_orb_search_says_no_match_for_an_unrelated_photograph(cli, atlas_copy, tmp_path):
    from skimage import data

    _json(cli("features", "index", "--atlas", atlas_copy, "--json"))
    query = write_image(tmp_path / "astronaut.png", data.astronaut())
    found = _json(cli("features", "search", query, "--atlas", atlas_copy, "--json"))
    assert found["match"] is False and found["results"] == [] and found["query"]["min_inliers"] == 10
    assert found["best"] is None or found["best"]["inliers"] < 10
    table = cli("features", "search", query, "--atlas", atlas_copy, "--out", tmp_path / "m.png")
    text = " ".join(table.stdout.split())
    assert table.exit_code == 0 and text.startswith("No match: ") and "--min-inliers 10" in text
    assert text.endswith("Nothing drawn.") and not (tmp_path / "m.png").exists()
    lowered = _json(cli("features", "search", query, "--atlas", atlas_copy, "--min-inliers", "1", "--json"))
    assert lowered["match"] is (found["best"] is not None)
    bad = cli("features", "search", query, "--atlas", atlas_copy, "--min-inliers", "0")
    assert bad.exit_code == 2 and "--min-inliers must be >= 1, got 0" in bad.stderr


def test_orb_search_finds_a_30_degree_rotated_96_pixel_copy_of_a_small_image(cli, tmp_path):
    import cv2

    from latentatlas.datasets.samples import load_sample

    tiles = load_sample("photos", tile=64)
    original = "coffee_0128_0512"  # a tile with texture (flat ones, such as sky, have no repeatable corners)
    for n in [*range(0, len(tiles.images), max(1, len(tiles.images) // 60)), tiles.names.index(original)]:
        write_image(tmp_path / "tiles" / f"{tiles.names[n]}.png", tiles.images[n])
    _store_rows(tmp_path / "tiles.atlas", tmp_path / "tiles", ReaderOptions())
    _json(cli("features", "index", "--atlas", tmp_path / "tiles.atlas", "--json"))
    enlarged = cv2.resize(read_image(tmp_path / "tiles" / f"{original}.png"), (96, 96), interpolation=cv2.INTER_CUBIC)
    query = write_image(tmp_path / "copy.png", _transformed(enlarged, 30, 1.0, 1.0))
    found = _json(cli("features", "search", query, "--atlas", tmp_path / "tiles.atlas", "-k", "3", "--json"))
    assert found["match"] is True and found["results"][0]["label"] == original
    assert found["results"][0]["inliers"] >= 10 and all(r["inliers"] >= 10 for r in found["results"])
