"""ORB local features: keypoints and binary descriptors, matching, geometric verification, drawing.

The pipeline of classic copy detection: ORB keypoints and 256-bit
descriptors on a grey image; matches by Hamming distance kept when the best
is clearly better than the second best (Lowe's ratio test); a RANSAC fit of
an affine map or a homography between the matched points; the number of
matches that agree with it (inliers) says how surely two images show the
same thing, whatever the rotation, scale or crop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UsageError

__all__ = ["OrbSettings", "Features", "Match", "to_gray", "extract", "match", "plausible", "draw_matches",
           "MIN_INLIERS"]

TRANSFORMS = ("affine", "homography")
DESCRIPTOR_BYTES = 32
MAX_SCALE = 16.0  # a copy is at most 16 times smaller or larger than its original
MAX_SHEAR = 3.0  # and at most 3 times more stretched one way than the other
MIN_INLIERS = 10


@dataclass(frozen=True, kw_only=True)
class OrbSettings:
    """How features are extracted (stored with them) and matched.

    Parameters
    ----------
    max_features : int
        Keypoints kept per image (the strongest).
    min_side : int
        Smaller images are enlarged (bicubic) to this shorter side first,
        since ORB needs about 31 pixels around a keypoint; queries and
        stored images alike, so a small rotated copy is described as its
        original is.
    fast_threshold : int
        FAST's corner threshold on the grey image stretched to 0..255
        (OpenCV's default is 20, which finds almost no corners in small
        enlarged images such as 8x8 digits or 64-pixel tiles).
    ratio : float
        A match is kept when its Hamming distance is below ``ratio`` times
        that of the second best.
    transform : {"affine", "homography"}
        The map fitted by RANSAC.
    reprojection : float
        RANSAC's inlier tolerance, as a share of the candidate image's
        longer side (0.01 is 5 pixels on a 512 pixel image).
    min_inliers : int
        Fewer inliers than this is chance, not a copy: a search whose best
        candidate has fewer finds no match. The default is above every
        chance count measured by ``bench/orb.py`` (see docs/search.md).

    Raises
    ------
    UsageError
        Naming the parameter, on a value that cannot be used.
    """

    max_features: int = 1000
    min_side: int = 256
    fast_threshold: int = 5
    ratio: float = 0.75
    transform: str = "affine"
    reprojection: float = 0.01
    min_inliers: int = MIN_INLIERS

    def __post_init__(self) -> None:
        if self.max_features < 8:
            raise UsageError(f"max_features must be >= 8, got {self.max_features}", parameter="max_features")
        if self.min_side < 32:
            raise UsageError(f"min_side must be >= 32, got {self.min_side}", parameter="min_side")
        if not 1 <= self.fast_threshold <= 100:
            raise UsageError(f"fast_threshold must be in 1..100, got {self.fast_threshold}", parameter="fast_threshold")
        if not 0 < self.ratio <= 1:
            raise UsageError(f"ratio must be in (0, 1], got {self.ratio}", parameter="ratio")
        if self.transform not in TRANSFORMS:
            raise UsageError(f"transform must be one of {', '.join(TRANSFORMS)}, got {self.transform!r}",
                             parameter="transform")
        if not 0 < self.reprojection < 1:
            raise UsageError(f"reprojection must be in (0, 1), got {self.reprojection}", parameter="reprojection")
        if self.min_inliers < 1:
            raise UsageError(f"min_inliers must be >= 1, got {self.min_inliers}", parameter="min_inliers")

    def extraction(self) -> dict:
        """The settings that decide the stored features (matching settings may change freely)."""
        return {"max_features": self.max_features, "min_side": self.min_side, "fast_threshold": self.fast_threshold}


@dataclass
class Features:
    """Keypoints ``(n, 4)``: x, y (pixels of the original image), size, angle; descriptors ``(n, 32)`` uint8."""

    keypoints: np.ndarray
    descriptors: np.ndarray
    height: int
    width: int

    def __len__(self) -> int:
        return len(self.keypoints)


@dataclass
class Match:
    """How a candidate matched a query: matched keypoint pairs, the inliers among them, the fitted map."""

    pairs: np.ndarray = field(default_factory=lambda: np.empty((0, 2), np.int64))
    inliers: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    transform: np.ndarray | None = None

    @property
    def inlier_count(self) -> int:
        """Matches consistent with the fitted map."""
        return int(self.inliers.sum())

    def summary(self) -> dict:
        """Counts as a JSON-able dict."""
        return {"inliers": self.inlier_count, "matches": len(self.pairs)}


def to_gray(image: np.ndarray) -> np.ndarray:
    """Any ``(H, W)`` or ``(H, W, C)`` image as 8-bit grey (16-bit scaled down, other types stretched)."""
    image = np.asarray(image)
    gray = image
    if image.ndim == 3:
        gray = image[..., :3] @ np.array([0.299, 0.587, 0.114]) if image.shape[2] >= 3 else image[..., 0]
    if image.dtype in (np.uint8, np.uint16):
        scale = 1.0 if image.dtype == np.uint8 else 1.0 / 257.0
        return np.ascontiguousarray(np.clip(np.rint(gray * scale), 0, 255).astype(np.uint8))
    values = np.nan_to_num(gray.astype(np.float64))
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return np.ascontiguousarray(np.rint(scaled).astype(np.uint8))


def extract(image: np.ndarray, settings: OrbSettings) -> Features:
    """ORB keypoints and descriptors of one image (grey, contrast stretched, small images enlarged)."""
    import cv2

    gray = _stretch(to_gray(image))
    height, width = gray.shape
    factor = max(1.0, settings.min_side / max(1, min(height, width)))
    if factor > 1:
        gray = cv2.resize(gray, (round(width * factor), round(height * factor)), interpolation=cv2.INTER_CUBIC)
    orb = cv2.ORB_create(nfeatures=settings.max_features, fastThreshold=settings.fast_threshold)
    found, descriptors = orb.detectAndCompute(gray, None)
    if descriptors is None or not found:
        return Features(np.empty((0, 4), np.float32), np.empty((0, DESCRIPTOR_BYTES), np.uint8), height, width)
    keypoints = np.array([(k.pt[0] / factor, k.pt[1] / factor, k.size / factor, k.angle) for k in found], np.float32)
    return Features(keypoints, descriptors.astype(np.uint8), height, width)


def _stretch(gray: np.ndarray) -> np.ndarray:
    """Grey levels from the 1st to the 99th percentile spread over 0..255, so corners do not depend on contrast."""
    low, high = np.percentile(gray, (1, 99))
    if high <= low:
        return gray
    return np.clip((gray.astype(np.float32) - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)


def match(query: Features, candidate: Features, settings: OrbSettings) -> Match:
    """Ratio-tested Hamming matches from query to candidate, verified by a RANSAC fit."""
    import cv2

    if len(query) < 2 or len(candidate) < 2:
        return Match()
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = [
        (best.queryIdx, best.trainIdx)
        for best, second in (m for m in matcher.knnMatch(query.descriptors, candidate.descriptors, k=2) if len(m) == 2)
        if best.distance < settings.ratio * second.distance
    ]
    pairs = np.array(pairs, np.int64).reshape(-1, 2)
    if len(pairs) < 4:
        return Match(pairs, np.zeros(len(pairs), bool))
    source = query.keypoints[pairs[:, 0], :2].reshape(-1, 1, 2)
    target = candidate.keypoints[pairs[:, 1], :2].reshape(-1, 1, 2)
    tolerance = max(1.0, settings.reprojection * max(candidate.height, candidate.width))
    if settings.transform == "homography":
        transform, mask = cv2.findHomography(source, target, cv2.RANSAC, tolerance)
    else:
        transform, mask = cv2.estimateAffine2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=tolerance)
    inliers = np.zeros(len(pairs), bool) if mask is None else mask.reshape(-1).astype(bool)
    if transform is None or not plausible(transform):
        return Match(pairs, np.zeros(len(pairs), bool), transform)
    counted = np.flatnonzero(inliers)
    inliers[counted[~_first_use(pairs[counted])]] = False
    return Match(pairs, inliers, transform)


def plausible(transform: np.ndarray) -> bool:
    """Whether a fitted map could turn one image into a copy of another.

    Its linear part must keep areas within a factor of
    :data:`MAX_SCALE` squared and shapes within :data:`MAX_SHEAR` (ratio
    of its singular values): RANSAC otherwise finds maps that squash every
    query point onto a few candidate points, and chance matches agree with
    them by the dozen.
    """
    linear = np.asarray(transform, np.float64)
    if linear.shape == (3, 3):
        if abs(linear[2, 2]) < 1e-12:
            return False
        linear = linear / linear[2, 2]
    singular = np.linalg.svd(linear[:2, :2], compute_uv=False)
    return bool(1 / MAX_SCALE <= singular[1] <= singular[0] <= MAX_SCALE and singular[0] <= MAX_SHEAR * singular[1])


def _first_use(pairs: np.ndarray) -> np.ndarray:
    """Pairs whose query keypoint and candidate keypoint appear in no earlier pair: one vote per keypoint."""
    _, first_query = np.unique(pairs[:, 0], return_index=True)
    _, first_candidate = np.unique(pairs[:, 1], return_index=True)
    keep = np.zeros(len(pairs), bool)
    keep[np.intersect1d(first_query, first_candidate)] = True
    return keep


def draw_matches(query_image: np.ndarray, query: Features, candidate_image: np.ndarray, candidate: Features,
                 found: Match, min_side: int = 256) -> np.ndarray:
    """The two images side by side (RGB) with lines between inlier matches.

    An image whose shorter side is below ``min_side`` is enlarged (nearest)
    to it, so the matches on an 8x8 digit can be seen.
    """
    import cv2

    def shown(image: np.ndarray, features: Features) -> tuple[np.ndarray, list]:
        gray = to_gray(image)
        factor = max(1, int(np.ceil(min_side / max(1, min(gray.shape)))))
        big = cv2.resize(gray, (gray.shape[1] * factor, gray.shape[0] * factor), interpolation=cv2.INTER_NEAREST)
        points = [cv2.KeyPoint(float(x) * factor, float(y) * factor, float(size) * factor, float(angle))
                  for x, y, size, angle in features.keypoints]
        return cv2.cvtColor(big, cv2.COLOR_GRAY2BGR), points

    chosen = found.pairs[found.inliers]
    lines = [cv2.DMatch(int(q), int(c), 0.0) for q, c in chosen]
    (left, left_points), (right, right_points) = shown(query_image, query), shown(candidate_image, candidate)
    drawn = cv2.drawMatches(left, left_points, right, right_points, lines, None,
                            matchColor=(0, 200, 0), singlePointColor=(0, 0, 255))
    return cv2.cvtColor(drawn, cv2.COLOR_BGR2RGB)
