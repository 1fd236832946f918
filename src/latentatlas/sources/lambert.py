"""The Lambert conformal grid of HRRR's CONUS domain, at any resolution.

HRRR fields are 1059 x 1799 points, 3 km apart, on a Lambert conformal
projection (standard parallel 38.5 N, central meridian 97.5 W) of a sphere
of radius 6,371,229 m. :meth:`LambertGrid.conus` covers the same domain
with any number of points, so generated fields can be written as GRIB2 or
NetCDF files with real coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["LambertGrid", "HRRR_SHAPE"]

HRRR_SHAPE = (1059, 1799)
_HRRR_SPACING = 3000.0
_HRRR_FIRST_POINT = (21.138123, 237.280472)  # south-west corner: latitude, longitude (degrees east)


@dataclass(frozen=True)
class LambertGrid:
    """A Lambert conformal conic grid: shape, spacing, first point, projection.

    Parameters
    ----------
    height, width : int
        Points along y (south to north) and x (west to east).
    dx, dy : float
        Spacing in metres at the standard parallel.
    lat1, lon1 : float
        The south-west (first) point, degrees north and east.
    lad, lov : float
        Latitude where the spacing is true and the central meridian (degrees east).
    latin1, latin2 : float
        The standard parallels (equal for a tangent cone).
    radius : float
        Radius of the spherical earth in metres.
    """

    height: int
    width: int
    dx: float
    dy: float
    lat1: float
    lon1: float
    lad: float = 38.5
    lov: float = 262.5
    latin1: float = 38.5
    latin2: float = 38.5
    radius: float = 6371229.0

    @classmethod
    def conus(cls, height: int = HRRR_SHAPE[0], width: int = HRRR_SHAPE[1]) -> "LambertGrid":
        """HRRR's CONUS domain covered by ``height`` x ``width`` points (cell centres, whole metres apart)."""
        dx = float(round(_HRRR_SPACING * HRRR_SHAPE[1] / width))
        dy = float(round(_HRRR_SPACING * HRRR_SHAPE[0] / height))
        hrrr = cls(*HRRR_SHAPE, _HRRR_SPACING, _HRRR_SPACING, *_HRRR_FIRST_POINT)
        x0, y0 = hrrr.forward(*_HRRR_FIRST_POINT)
        lat1, lon1 = hrrr.inverse(x0 + (dx - _HRRR_SPACING) / 2, y0 + (dy - _HRRR_SPACING) / 2)
        return cls(height, width, dx, dy, round(float(lat1), 6), round(float(lon1) % 360.0, 6))

    @property
    def _cone(self) -> tuple[float, float, float]:
        """(n, F, rho0) of the projection."""
        phi1, phi2 = np.radians(self.latin1), np.radians(self.latin2)
        if np.isclose(phi1, phi2):
            n = np.sin(phi1)
        else:
            n = np.log(np.cos(phi1) / np.cos(phi2)) / np.log(
                np.tan(np.pi / 4 + phi2 / 2) / np.tan(np.pi / 4 + phi1 / 2))
        f = np.cos(phi1) * np.tan(np.pi / 4 + phi1 / 2) ** n / n
        rho0 = self.radius * f / np.tan(np.pi / 4 + np.radians(self.lad) / 2) ** n
        return float(n), float(f), float(rho0)

    def forward(self, lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
        """Projection coordinates (metres) of points given in degrees."""
        n, f, rho0 = self._cone
        rho = self.radius * f / np.tan(np.pi / 4 + np.radians(lat) / 2) ** n
        theta = n * np.radians((np.asarray(lon) - self.lov + 180.0) % 360.0 - 180.0)
        return rho * np.sin(theta), rho0 - rho * np.cos(theta)

    def inverse(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude (degrees east, 0..360) of projection coordinates."""
        n, f, rho0 = self._cone
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        rho = np.sign(n) * np.hypot(x, rho0 - y)
        theta = np.arctan2(np.sign(n) * x, np.sign(n) * (rho0 - y))
        lat = np.degrees(2 * np.arctan((self.radius * f / rho) ** (1 / n)) - np.pi / 2)
        return lat, (self.lov + np.degrees(theta / n)) % 360.0

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """Projection coordinates of the columns (x) and rows (y, south to north), metres."""
        x0, y0 = self.forward(self.lat1, self.lon1)
        return x0 + self.dx * np.arange(self.width), y0 + self.dy * np.arange(self.height)

    def latlon(self) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude of every point, ``(height, width)``, rows south to north."""
        x, y = self.axes()
        return self.inverse(*np.meshgrid(x, y))

    def grib_keys(self) -> dict[str, Any]:
        """GRIB2 grid definition (template 3.30), rows written south to north."""
        return {
            "gridDefinitionTemplateNumber": 30, "shapeOfTheEarth": 1,
            "scaleFactorOfRadiusOfSphericalEarth": 0, "scaledValueOfRadiusOfSphericalEarth": int(self.radius),
            "Nx": self.width, "Ny": self.height,
            "latitudeOfFirstGridPointInDegrees": self.lat1, "longitudeOfFirstGridPointInDegrees": self.lon1,
            "LaDInDegrees": self.lad, "LoVInDegrees": self.lov,
            "Latin1InDegrees": self.latin1, "Latin2InDegrees": self.latin2,
            "DxInMetres": int(round(self.dx)), "DyInMetres": int(round(self.dy)),
            "latitudeOfSouthernPoleInDegrees": -90.0, "longitudeOfSouthernPoleInDegrees": 0.0,
            "iScansNegatively": 0, "jScansPositively": 1, "jPointsAreConsecutive": 0,
        }

    def cf_attributes(self) -> dict[str, Any]:
        """CF ``grid_mapping`` attributes of the projection."""
        return {
            "grid_mapping_name": "lambert_conformal_conic",
            "standard_parallel": [self.latin1, self.latin2],
            "longitude_of_central_meridian": (self.lov + 180.0) % 360.0 - 180.0,
            "latitude_of_projection_origin": self.lad,
            "earth_radius": self.radius,
        }
