"""Replacing an atlas's model atomically: a kill at any moment leaves the old atlas or the new one, never a mix.

::

    fit ──> model.new/ written whole (config, weights, history)      kill here: model.new is dropped on the
        ──> one transaction: rows and everything made from them       next open; the old atlas stands
            cleared, the new settings and fingerprint recorded,
            and "model_switch" = the new fingerprint                   kill from here on: the next open
        ──> rename model -> model.old, model.new -> model              finishes the renames; the new atlas
        ──> model.old removed, "model_switch" cleared                  stands

The transaction is the commit point: before it the database describes the
old model, after it the new one, and :func:`finish_model_switch` (run when
a store opens) brings the directories in line with it. :data:`switch_hook`
is called at each step, so tests can kill the switch there.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ModelMismatchError
from .schema import FINGERPRINT_SETTING, MODEL_SWITCH_SETTING

if TYPE_CHECKING:  # the store opens through this module (it finishes a killed switch): no import back at run time
    from .database import Store

__all__ = ["staging_dir", "switch_model", "finish_model_switch", "check_codes_made_by", "switch_hook"]

switch_hook: Callable[[str], None] = lambda step: None  # noqa: E731  (tests replace it to inject a kill)


def staging_dir(store: Store) -> Path:
    """Where a new model is written whole before it replaces ``model/``."""
    return store.model_dir.with_name(store.model_dir.name + ".new")


def _old_dir(store: Store) -> Path:
    return store.model_dir.with_name(store.model_dir.name + ".old")


def switch_model(store: Store, fingerprint: str, settings: dict[str, Any]) -> None:
    """Make the model written whole in :func:`staging_dir` the atlas's model, with ``settings``, clearing every row.

    The rows and what was made from them go, ``settings`` and the new
    ``fingerprint`` are recorded, in one transaction; then the directories
    are renamed (see the module's notes).
    """
    switch_hook("staged")
    store.clear(settings={**settings, FINGERPRINT_SETTING: fingerprint, MODEL_SWITCH_SETTING: fingerprint})
    switch_hook("committed")
    finish_model_switch(store)


def finish_model_switch(store: Store) -> None:
    """Bring ``model/`` in line with the database after a switch that was stopped (nothing to do after none).

    A switch the database recorded is finished (its model moved into
    place, the old one removed); a staged model it never recorded is
    removed by a writable store only (a reader leaves it alone).
    """
    staged, old, model = staging_dir(store), _old_dir(store), store.model_dir
    pending = store.setting(MODEL_SWITCH_SETTING)
    if pending is not None and staged.is_dir():
        if model.is_dir():
            shutil.rmtree(old, ignore_errors=True)
            os.rename(model, old)
            switch_hook("old moved")
        os.rename(staged, model)
        switch_hook("new moved")
    shutil.rmtree(old, ignore_errors=True)
    if store.read_only:
        return
    if pending is None:
        shutil.rmtree(staged, ignore_errors=True)  # staged by a fit stopped before its transaction
    else:
        store.con.execute("DELETE FROM settings WHERE key = ?", [MODEL_SWITCH_SETTING])


def check_codes_made_by(store: Store, fingerprint: str, code_size: int | None) -> None:
    """Refuse a model whose codes (``code_size`` numbers; None: no vector code) or ``fingerprint`` differ from the stored.

    Raises
    ------
    ModelMismatchError
        If the atlas holds codes of another size, or recorded as made by another model.
    """
    existing = store.code_size()
    if existing is not None and code_size is not None and existing != code_size:
        raise ModelMismatchError(
            f"{store.path}: the atlas holds codes of {existing} numbers but the model makes {code_size}")
    made_by = store.setting(FINGERPRINT_SETTING)
    if store.count("embeddings") and made_by not in (None, fingerprint):
        raise ModelMismatchError(f"{store.path}: the stored codes were made by model {made_by}, "
                                 f"not by the model in {store.model_dir} ({fingerprint})")
