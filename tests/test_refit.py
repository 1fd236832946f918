"""A refit is atomic: a kill at each step of the switch leaves the old atlas or the new one, and a model that did not
make the codes decodes nothing."""

from __future__ import annotations

import pytest

from latentatlas import Atlas
from latentatlas.errors import ModelMismatchError
from latentatlas.models import load_model, save_model, stage_model
from latentatlas.store import switch
from latentatlas.store.schema import FINGERPRINT_SETTING, READER_SETTING


class Killed(BaseException):
    """What the hook raises where the process would die."""


def another_model(atlas_path):
    """The atlas's model with its weights nudged: the same shapes, another fingerprint."""
    import torch

    model = load_model(atlas_path / "model")
    with torch.no_grad():
        next(model.net.parameters()).add_(0.01)
    return model


def state(atlas_path, read_only=False) -> dict:
    """What a new handle sees: rows, the codes' recorded model, the model's fingerprint, leftover folders."""
    with Atlas.open(atlas_path, read_only=read_only) as atlas:
        seen = {"rows": atlas.store.count("embeddings"), "codes_by": atlas.store.setting(FINGERPRINT_SETTING),
                "model": atlas.model.fingerprint, "reader": atlas.store.setting(READER_SETTING)}
        if seen["rows"]:
            assert atlas.decode(id=0).shape == (8, 8)
    seen["leftovers"] = sorted(p.name for p in atlas_path.iterdir() if p.name.startswith("model."))
    return seen


@pytest.mark.parametrize("step, outcome", [
    ("staged", "old"), ("committed", "new"), ("old moved", "new"), ("new moved", "new"), (None, "new")])
@pytest.mark.parametrize("read_only", [False, True])
def test_a_switch_killed_at_each_step_leaves_the_old_atlas_or_the_new(atlas_copy, monkeypatch, step, outcome,
                                                                      read_only):
    old = state(atlas_copy)
    new = another_model(atlas_copy)

    def kill(at: str) -> None:
        if at == step:
            raise Killed(at)

    monkeypatch.setattr(switch, "switch_hook", kill)
    with Atlas.open(atlas_copy) as atlas:
        stage_model(new, switch.staging_dir(atlas.store))
        try:
            switch.switch_model(atlas.store, new.fingerprint, {READER_SETTING: {"marker": 1}})
        except Killed:
            pass
    monkeypatch.setattr(switch, "switch_hook", lambda at: None)
    after = state(atlas_copy, read_only=read_only)  # a reader finishes the renames too
    if outcome == "old":
        assert {**after, "leftovers": []} == old
    else:
        assert after["rows"] == 0 and after["model"] == after["codes_by"] == new.fingerprint
        assert after["reader"] == {"marker": 1}
    assert after["leftovers"] == ([switch.staging_dir(atlas.store).name] if read_only and outcome == "old" else [])
    assert state(atlas_copy)["leftovers"] == []  # a writer tidies up whatever a reader left


def test_fit_overwrite_goes_through_the_switch(atlas_copy, digits_dir, monkeypatch):
    steps = []
    monkeypatch.setattr(switch, "switch_hook", steps.append)
    with Atlas.open(atlas_copy) as atlas:
        atlas.fit(digits_dir / "1", code_size=4, epochs=1, base_channels=4, seed=1, overwrite=True)
    assert steps == ["staged", "committed", "old moved", "new moved"]
    after = state(atlas_copy)
    assert after["rows"] == 0 and after["leftovers"] == [] and (atlas_copy / "model" / "history.json").is_file()


def test_a_model_that_did_not_make_the_codes_decodes_nothing(cli, error_line, atlas_copy):
    made_by = state(atlas_copy)["model"]
    save_model(another_model(atlas_copy), atlas_copy / "model")  # as a switch done by hand, half way
    result = cli("info", "--atlas", atlas_copy)
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == 1 and f"the stored codes were made by model {made_by}" in warnings[0]
    line = error_line(cli("decode", "--atlas", atlas_copy, "--id", "0", "--out", atlas_copy / "d.png"), 1)
    assert f"the stored codes were made by model {made_by}" in line and not (atlas_copy / "d.png").exists()
    with Atlas.open(atlas_copy, read_only=True) as atlas:
        with pytest.raises(ModelMismatchError):
            atlas.decode(vector=[0.0] * 16)
        assert len(atlas.search(id=0, k=3).hits) == 3  # search by id needs no model
