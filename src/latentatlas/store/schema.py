"""Every table of the atlas database, in one place: its DDL and what ``clear()`` drops with the rows.

::

    images        id, uri, sha256, time, label, tile_row, tile_col, width, height, meta
    embeddings    id, vector FLOAT[d]
    settings      key, value (JSON): reading options, model fingerprint, cluster runs' scores, ...
    clusters      run, id, cluster, distance
    centroids     run, cluster, vector FLOAT[d]
    orb_features  id, width, height, keypoints BLOB, descriptors BLOB
"""

from __future__ import annotations

__all__ = [
    "IMAGE_COLUMNS", "BASE_TABLES", "embeddings_table", "CLUSTERS_TABLE", "centroids_table", "ORB_TABLE",
    "ORB_FEATURES", "FINGERPRINT_SETTING", "MODEL_SWITCH_SETTING", "READER_SETTING", "GRID_SETTING", "CLUSTER_RUN_SETTING", "ORB_SETTING", "DERIVED_TABLES", "DERIVED_SETTINGS",
]

IMAGE_COLUMNS = ("id", "uri", "sha256", "time", "label", "tile_row", "tile_col", "width", "height", "meta")

BASE_TABLES = """
CREATE TABLE IF NOT EXISTS images (
    id BIGINT PRIMARY KEY,
    uri TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    time TIMESTAMP,
    label TEXT,
    tile_row INTEGER,
    tile_col INTEGER,
    width INTEGER,
    height INTEGER,
    meta JSON
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value JSON);
"""

CLUSTERS_TABLE = ("CREATE TABLE IF NOT EXISTS clusters "
                  "(run TEXT NOT NULL, id BIGINT NOT NULL, cluster INTEGER NOT NULL, distance FLOAT)")
ORB_FEATURES = "orb_features"
ORB_TABLE = f"""CREATE TABLE IF NOT EXISTS {ORB_FEATURES} (
    id BIGINT PRIMARY KEY, width INTEGER, height INTEGER, keypoints BLOB, descriptors BLOB)"""

FINGERPRINT_SETTING = "model_fingerprint"  # the model that made the stored codes
MODEL_SWITCH_SETTING = "model_switch"  # the fingerprint of a model being moved into place (store.switch)
READER_SETTING = "reader"  # how fit read its sources (sources.ReaderOptions), which embed reuses
GRID_SETTING = "grid"  # where fit's first source lies on the earth (sources.geometry.GridGeometry), or null
CLUSTER_RUN_SETTING = "cluster_run:"  # + run name: the run's settings and scores
ORB_SETTING = "orb_features"  # the extraction settings of the stored ORB features

DERIVED_TABLES = ("embeddings", "clusters", "centroids", ORB_FEATURES)  # made from the rows: cleared with them
DERIVED_SETTINGS = f"key LIKE '{CLUSTER_RUN_SETTING}%' OR key = '{ORB_SETTING}'"


def embeddings_table(code_size: int) -> str:
    """The DDL of ``embeddings`` for codes of ``code_size`` numbers."""
    return f"CREATE TABLE embeddings (id BIGINT PRIMARY KEY, vector FLOAT[{int(code_size)}])"


def centroids_table(code_size: int) -> str:
    """The DDL of ``centroids`` for codes of ``code_size`` numbers."""
    return f"CREATE TABLE IF NOT EXISTS centroids (run TEXT NOT NULL, cluster INTEGER NOT NULL, vector FLOAT[{int(code_size)}])"
