"""End to end through the CLI: export, build, embed, search, decode, sql, info, and bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from latentatlas.sources import read_image


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_datasets_list_and_export(cli, tmp_path):
    listed = _json(cli("datasets", "list", "--json"))
    assert {d["name"] for d in listed["datasets"]} >= {"digits", "photos", "shapes"}
    exported = _json(cli("datasets", "export", "digits", "--out", tmp_path / "digits", "--json"))
    assert exported["images"] == 1797
    assert (tmp_path / "digits" / "labels.csv").is_file()
    assert len(list((tmp_path / "digits" / "7").glob("*.png"))) == 179
    result = cli("datasets", "export", "mnist", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "unknown sample set 'mnist'" in result.stderr


def test_build_then_search_by_id_finds_itself_first(cli, tmp_path, digits_dir):
    atlas = tmp_path / "d.atlas"
    built = _json(cli("build", digits_dir, "--atlas", atlas, "--code-size", "16", "--epochs", "10", "--batch-size", "32",
                      "--base-channels", "8", "--json", "--quiet"))
    assert built["images"] == 300 and built["embed"]["added"] == 300 and built["embed"]["failed"] == []
    assert built["best_val_loss"] < built["baseline_val_loss"]
    found = _json(cli("search", "--atlas", atlas, "--id", "17", "-k", "5", "--json"))
    results = found["results"]
    assert found["query"] == {"id": 17, "k": 5, "metric": "l2", "where": None}
    assert len(results) == 5 and results[0]["id"] == 17 and results[0]["distance"] == 0.0
    assert [r["distance"] for r in results] == sorted(r["distance"] for r in results)
    assert set(results[0]) == {"id", "uri", "label", "time", "distance"}


def test_search_where_excludes_and_still_returns_k(cli, digits_atlas, digits_dir):
    query = sorted((digits_dir / "3").glob("*.png"))[0]
    found = _json(cli("search", "--atlas", digits_atlas, query, "-k", "25", "--where", "label <> '3'", "--json"))
    assert len(found["results"]) == 25 and all(r["label"] != "3" for r in found["results"])
    assert found["query"]["image"] == str(query.resolve())
    only_threes = _json(cli("search", "--atlas", digits_atlas, query, "-k", "50", "--where", "label = '3'", "--json"))
    assert len(only_threes["results"]) == 30  # fewer match than k: all of them come back
    table = cli("search", "--atlas", digits_atlas, "--id", "0", "-k", "3", "--metric", "cosine")
    assert table.exit_code == 0 and "distance" in table.stdout


def test_search_by_vector_and_its_errors(cli, digits_atlas):
    vector = ",".join(["0.5"] * 16)
    found = _json(cli("search", "--atlas", digits_atlas, "--vector", vector, "-k", "2", "--json"))
    assert len(found["results"]) == 2 and len(found["query"]["vector"]) == 16
    short = cli("search", "--atlas", digits_atlas, "--vector", "1,2,3")
    assert short.exit_code == 2 and "--vector has 3 numbers; the atlas's codes have 16" in short.stderr
    both = cli("search", "--atlas", digits_atlas, "--id", "1", "--vector", vector)
    assert both.exit_code == 2 and "exactly one query" in both.stderr


@pytest.mark.parametrize("args, status, message", [
    (["--id", "99999"], 2, "unknown id 99999"),
    (["--id", "1", "--where", "label = "], 2, "bad --where predicate"),
    (["--id", "1", "--where", "nosuch = 1"], 2, "nosuch"),
    (["--id", "1", "-k", "0"], 2, "k must be >= 1"),
    (["--id", "1", "--metric", "hamming"], 2, "metric must be one of"),
])
def test_search_usage_errors_are_one_line(cli, digits_atlas, args, status, message):
    result = cli("search", "--atlas", digits_atlas, *args)
    assert result.exit_code == status
    assert message in result.stderr and result.stderr.startswith("Error: ")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_missing_atlas_is_a_failure(cli, tmp_path):
    result = cli("search", "--atlas", tmp_path / "none.atlas", "--id", "1")
    assert result.exit_code == 1 and "none.atlas: no atlas here" in result.stderr


def test_embed_again_adds_nothing_and_new_files_are_added(cli, atlas_copy, digits_dir, tmp_path):
    again = _json(cli("embed", digits_dir, "--atlas", atlas_copy, "--json"))
    assert again == {"added": 0, "skipped": 300, "failed": [], "rows": 300}
    extra = tmp_path / "extra"
    shutil.copytree(digits_dir / "5", extra / "5")
    added = _json(cli("embed", extra, "--atlas", atlas_copy, "--json"))
    assert added["added"] == 30 and added["rows"] == 330  # same bytes, new place: new rows


def test_corrupt_files_are_skipped_and_reported(cli, atlas_copy, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    Image.fromarray(np.full((8, 8), 128, np.uint8)).save(folder / "good.png")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (folder / "text.jpg").write_text("not a picture")
    result = cli("embed", folder, "--atlas", atlas_copy, "--json")
    summary = json.loads(result.stdout)
    assert result.exit_code == 0 and summary["added"] == 1
    assert sorted(f["uri"].rsplit("/", 1)[1] for f in summary["failed"]) == ["broken.png", "text.jpg"]
    assert "Skipped 2 unreadable item(s)" in result.stderr and "broken.png" in result.stderr
    assert _json(cli("sql", "--atlas", atlas_copy, "SELECT count(*) AS n FROM images", "--json"))["rows"] == [{"n": 301}]


def test_images_the_model_cannot_take_are_skipped_per_image(cli, atlas_copy, tmp_path, rng):
    stack = rng.integers(0, 255, (3, 8, 8, 5), dtype=np.uint8)  # five channels: not an image mode we map
    np.save(tmp_path / "five.npy", stack)
    floats = rng.random((2, 8, 8)).astype(np.float32)
    floats[1, 0, 0] = np.nan
    np.save(tmp_path / "fields.npy", floats)
    result = cli("embed", tmp_path / "five.npy", tmp_path / "fields.npy", "--atlas", atlas_copy, "--json")
    summary = json.loads(result.stdout)
    assert result.exit_code == 0 and summary["added"] == 1
    reasons = {f["uri"].rsplit("/", 1)[1]: f["reason"] for f in summary["failed"]}
    assert reasons["five.npy#0"] == "image has 5 channels; the model takes 1"
    assert reasons["fields.npy#1"] == "image contains NaN or infinite values"
    assert len(reasons) == 4


def test_an_empty_folder_is_refused(cli, atlas_copy, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("embed", tmp_path / "empty", "--atlas", atlas_copy)
    assert result.exit_code == 1 and "empty: folder holds no images" in result.stderr


def test_a_mismatched_model_is_refused_and_nothing_is_lost(cli, atlas_copy, tmp_path, digits_dir):
    other = tmp_path / "other.atlas"
    _json(cli("fit", digits_dir / "1", "--atlas", other, "--code-size", "8", "--epochs", "1",
              "--base-channels", "8", "--json"))
    shutil.rmtree(atlas_copy / "model")
    shutil.copytree(other / "model", atlas_copy / "model")
    result = cli("embed", digits_dir, "--atlas", atlas_copy)
    assert result.exit_code == 1
    assert "holds codes of 16 numbers but the model makes 8" in result.stderr
    image_query = cli("search", "--atlas", atlas_copy, sorted((digits_dir / "1").glob("*.png"))[0])
    assert image_query.exit_code == 1 and "holds codes of 16 numbers but the model makes 8" in image_query.stderr
    assert _json(cli("info", "--atlas", atlas_copy, "--json"))["embedded"] == 300


def test_refitting_an_atlas_with_rows_needs_overwrite(cli, atlas_copy, digits_dir):
    refused = cli("fit", digits_dir, "--atlas", atlas_copy, "--epochs", "1")
    assert refused.exit_code == 2 and "pass --overwrite" in refused.stderr
    assert _json(cli("info", "--atlas", atlas_copy, "--json"))["embedded"] == 300
    _json(cli("fit", digits_dir / "2", "--atlas", atlas_copy, "--epochs", "1", "--code-size", "8",
              "--base-channels", "8", "--overwrite", "--json"))
    info = _json(cli("info", "--atlas", atlas_copy, "--json"))
    assert info["embedded"] == 0 and info["model"]["code_size"] == 8


def test_decode_writes_the_original_size_in_the_input_units(cli, digits_atlas, tmp_path):
    out = tmp_path / "recon.png"
    decoded = _json(cli("decode", "--atlas", digits_atlas, "--id", "17", "--out", out, "--json"))
    assert decoded["shape"] == [8, 8] and decoded["dtype"] == "uint8"
    assert read_image(out).shape == (8, 8)
    raw = tmp_path / "v.npy"
    _json(cli("decode", "--atlas", digits_atlas, "--vector", ",".join(["0"] * 16), "--out", raw, "--json"))
    assert np.load(raw).shape == (8, 8)
    unknown = cli("decode", "--atlas", digits_atlas, "--id", "12345", "--out", out)
    assert unknown.exit_code == 2 and "unknown id 12345" in unknown.stderr


def test_sql_prints_tables_and_json_with_vectors_as_lists(cli, digits_atlas):
    grouped = _json(cli("sql", "--atlas", digits_atlas, "SELECT label, count(*) AS n FROM images GROUP BY 1 ORDER BY 1", "--json"))
    assert grouped["columns"] == ["label", "n"] and grouped["rows"][0] == {"label": "0", "n": 30}
    vectors = _json(cli("sql", "--atlas", digits_atlas, "SELECT id, vector FROM embeddings ORDER BY id LIMIT 2", "--json"))
    assert isinstance(vectors["rows"][0]["vector"], list) and len(vectors["rows"][0]["vector"]) == 16
    table = cli("sql", "--atlas", digits_atlas, "SELECT id, vector FROM embeddings LIMIT 3")
    assert table.exit_code == 0 and "(16)" in table.stdout
    refused = cli("sql", "--atlas", digits_atlas, "DELETE FROM images")
    assert refused.exit_code == 2 and "only read-only queries" in refused.stderr


def test_info_reports_model_rows_and_history(cli, digits_atlas):
    info = _json(cli("info", "--atlas", digits_atlas, "--json"))
    assert info["rows"] == info["embedded"] == 300 and info["code_size"] == 16 and info["labels"] == 10
    assert info["model"]["input_shape"] == [1, 8, 8] and info["model"]["depth"] == 1
    assert info["history"]["epochs"] >= 1 and info["history"]["best_loss"] < info["history"]["baseline_val_loss"]
    assert (digits_atlas / "model" / "loss.png").is_file() and (digits_atlas / "model" / "history.json").is_file()
    text = cli("info", "--atlas", digits_atlas)
    assert text.exit_code == 0 and "300 images" in text.stdout


def test_fit_and_info_say_plainly_when_pca_was_kept(cli, digits_dir, tmp_path):
    atlas = tmp_path / "pca.atlas"
    fitted = cli("fit", digits_dir, "--atlas", atlas, "--epochs", "1", "--lr", "1e-9", "--code-size", "8",
                 "--quiet")
    assert fitted.exit_code == 0 and "PCA kept: " in fitted.stdout and "at epoch 0" not in fitted.stdout
    kept = [line for line in fitted.stdout.splitlines() if line.startswith("PCA kept: ")]
    assert kept[0].endswith("without --epochs.")  # off a terminal a sentence is one line, not cut at 80 columns
    text = cli("info", "--atlas", atlas).stdout
    assert "PCA kept, 1x8x8 -> 8 numbers" in text and "parameters" not in text and "at epoch" not in text


def test_fit_reports_a_folder_with_only_bad_files(cli, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.png").write_text("x")
    (folder / "b.png").write_text("y")
    result = cli("fit", folder, "--atlas", tmp_path / "x.atlas")
    assert result.exit_code == 1 and "need at least 2 readable images" in result.stderr and "a.png" in result.stderr


def test_bad_option_values_exit_with_status_2(cli, digits_dir, tmp_path):
    for args, message in [(["--size", "axb"], "--size must be N or HxW"), (["--loss", "huber"], "loss must be one of"),
                          (["--value-range", "a,b"], "--value-range must be numbers")]:
        result = cli("fit", digits_dir, "--atlas", tmp_path / "x.atlas", *args)
        assert result.exit_code == 2 and message in result.stderr


def test_fit_compares_with_pca_streams_and_stores_its_choices(cli, tmp_path, digits_dir):
    atlas = tmp_path / "s.atlas"
    fitted = _json(cli("fit", digits_dir, "--atlas", atlas, "--code-size", "8", "--epochs", "3", "--cache-images", "40",
                       "--max-images", "200", "--augment", "hflip", "--augment", "shift", "--json", "--quiet"))
    assert fitted["images"] == 200 and fitted["pca_val_loss"] > 0 and fitted["comparison"].startswith("validation MSE")
    shown = _json(cli("info", "--atlas", atlas, "--json"))
    assert shown["history"]["comparison"] == fitted["comparison"]
    training = shown["model"]["training"]
    assert training["augment"] == ["hflip", "shift:0.0625"] and training["device"] == "auto"
    printed = cli("info", "--atlas", atlas)
    assert fitted["comparison"] in " ".join(printed.stdout.split())


def test_fit_on_a_missing_device_is_one_line(cli, tmp_path, digits_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = cli("fit", digits_dir, "--atlas", tmp_path / "c.atlas", "--device", "cuda", "--epochs", "1")
    assert result.exit_code == 2 and "device 'cuda' is not available on this machine" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
