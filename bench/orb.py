"""Inliers of true copies against chance: the threshold of ``features search``'s "no match".

Prints one JSON document. Run (2 to 4 minutes on 2 cores, with other work on them)::

    .venv/bin/python bench/orb.py

The stored images are the photographs that ship with scikit-image and
scikit-learn (longer side 256), 64-pixel tiles of them, scikit-learn's 8x8
digits and 32-pixel generated shapes (``--per-group`` of each). Every
stored image of ``--queries`` per group is copied in each way of
:data:`TRANSFORMS` (rotations of 30 and 90 degrees, scale, crop, JPEG,
and a 96-pixel copy rotated 30 degrees) and matched, as ``features
search`` does (:func:`latentatlas.search.orb.extract` and
:func:`~latentatlas.search.orb.match` with the default settings), against
every stored image. The inliers of a copy with its original are "true";
the most inliers of a copy with any other stored image, and of photographs
that are not stored (the query's best candidate when it has no copy), are
"chance". The JSON gives both distributions (per group and transform),
the largest chance count, and the share of true copies at or above each
threshold.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

TRANSFORMS = {
    "rotate 30": dict(angle=30),
    "rotate 90": dict(angle=90),
    "scale 0.6, rotate 10": dict(angle=10, scale=0.6),
    "crop 70 %": dict(crop=0.7),
    "JPEG 50": dict(jpeg=50),
    "96 px, rotate 30": dict(angle=30, side=96),
}


def copy(image: np.ndarray, angle: float = 0.0, scale: float = 1.0, crop: float = 1.0, jpeg: int | None = None,
         side: int | None = None) -> np.ndarray:
    """``image`` resized to ``side`` (longer side), turned by ``angle`` and scaled about its centre, cropped, JPEG-coded."""
    import cv2

    if side is not None:
        factor = side / max(image.shape[:2])
        image = cv2.resize(image, (round(image.shape[1] * factor), round(image.shape[0] * factor)),
                           interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
    h, w = image.shape[:2]
    if angle or scale != 1.0:
        image = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale), (w, h))
    if crop < 1.0:
        dy, dx = int(h * (1 - crop) / 2), int(w * (1 - crop) / 2)
        image = image[dy:h - dy, dx:w - dx]
    if jpeg is not None:
        ok, coded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg])
        image = cv2.imdecode(coded, cv2.IMREAD_UNCHANGED)
    return np.ascontiguousarray(image)


def stored_images(per_group: int, distractors: int, seed: int) -> tuple[dict[str, list[np.ndarray]], list[np.ndarray]]:
    """The stored images by group (and ``distractors`` more tiles and digits), and photographs kept out of the atlas."""
    import cv2

    from latentatlas.datasets.samples import photographs, load_sample

    rng = np.random.default_rng(seed)
    photos = []
    for name, photo in photographs():
        if name == "motorcycle_right":  # the other half of a stereo pair: a true copy of motorcycle_left
            continue
        factor = 256 / max(photo.shape[:2])
        photos.append(cv2.resize(photo, (round(photo.shape[1] * factor), round(photo.shape[0] * factor)),
                                 interpolation=cv2.INTER_AREA))
    order = rng.permutation(len(photos))
    held_out = [photos[i] for i in order[per_group:]]
    tiles = load_sample("photos", tile=64).images
    digits = load_sample("digits").images
    shapes = load_sample("shapes", n=per_group * 4, seed=seed).images
    tile_rows = rng.choice(len(tiles), per_group + distractors // 2, replace=False)
    digit_rows = rng.choice(len(digits), per_group + distractors - distractors // 2, replace=False)
    groups = {
        "photos": [photos[i] for i in order[:per_group]],
        "tiles": [tiles[i] for i in tile_rows[:per_group]],
        "digits": [np.ascontiguousarray(digits[i]) for i in digit_rows[:per_group]],
        "shapes": list(shapes[:per_group]),
        "distractors": [tiles[i] for i in tile_rows[per_group:]] + [digits[i] for i in digit_rows[per_group:]],
    }
    return groups, held_out


def _enlarged(digit: np.ndarray) -> np.ndarray:
    """An 8x8 digit enlarged to 64 pixels (bicubic): the picture a user has of it, then copied."""
    import cv2

    return cv2.resize(digit, (64, 64), interpolation=cv2.INTER_CUBIC)


def summary(values: list[int]) -> str:
    """Count, min, 5th percentile, median, 95th percentile and max of inlier counts, in one line."""
    array = np.asarray(values)
    return (f"n {len(array)}: min {array.min()}, p5 {np.percentile(array, 5):.0f}, median {np.median(array):.0f}, "
            f"p95 {np.percentile(array, 95):.0f}, max {array.max()}")


def main() -> None:
    from latentatlas.search.orb import OrbSettings, extract, match

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-group", type=int, default=10, help="stored images per group")
    parser.add_argument("--queries", type=int, default=5, help="stored images per group that are copied")
    parser.add_argument("--distractors", type=int, default=400, help="more stored tiles and digits, never queried")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    clock = time.perf_counter()
    settings = OrbSettings()
    groups, held_out = stored_images(args.per_group, args.distractors, args.seed)
    stored = [(group, n, extract(image, settings))
              for group, images in groups.items() for n, image in enumerate(images)]
    queried = [group for group in groups if group != "distractors"]
    true: dict[str, dict[str, list[int]]] = {group: {name: [] for name in TRANSFORMS} for group in queried}
    chance: dict[str, list[int]] = {group: [] for group in queried}
    for group in queried:
        images = groups[group]
        for n, image in enumerate(images[:args.queries]):
            source = _enlarged(image) if group == "digits" else image
            for name, how in TRANSFORMS.items():
                query = extract(copy(source, **how), settings)
                counts = [(match(query, features, settings).inlier_count, (g, m) == (group, n))
                          for g, m, features in stored]
                true[group][name].append(next(c for c, itself in counts if itself))
                chance[group].append(max(c for c, itself in counts if not itself))
    absent = []
    for photo in held_out:
        for name, how in TRANSFORMS.items():
            query = extract(copy(photo, **how), settings)
            absent.append(max(match(query, features, settings).inlier_count for _, _, features in stored))
    # one shape is a scaled, moved copy of another of its kind, so shapes are left out of the largest chance count
    every_chance = [c for group, values in chance.items() if group != "shapes" for c in values] + absent
    thresholds = (4, 6, 8, 10, 12, 16, 20)

    def share(values: list[int]) -> dict[int, float]:
        return {t: round(float(np.mean(np.asarray(values) >= t)), 3) for t in thresholds}

    print(json.dumps({
        "threshold": settings.min_inliers,
        "stored": {group: len(images) for group, images in groups.items()},
        "settings": {**settings.extraction(), "ratio": settings.ratio, "transform": settings.transform},
        "true": {group: {name: summary(values) for name, values in by_name.items()} for group, by_name in true.items()},
        "chance": {**{group: summary(values) for group, values in chance.items()}, "not stored": summary(absent)},
        "largest chance (photos, tiles, digits, not stored)": int(max(every_chance)),
        "true copies at or above": {group: share([c for values in by_name.values() for c in values])
                                    for group, by_name in true.items()},
        "chance at or above": {**{group: share(values) for group, values in chance.items()},
                               "not stored": share(absent)},
        "seconds": round(time.perf_counter() - clock, 1),
    }, indent=1))


if __name__ == "__main__":
    main()
