"""Where a field's pixels lie on the earth: its grid's projection and extent, read from GRIB2 or NetCDF.

A :class:`GridGeometry` describes the image as the readers give it (north
up, west to east): a Lambert conformal grid (HRRR's) with its extent in
projection metres, or a regular latitude/longitude grid with its extent in
degrees. :meth:`GridGeometry.read_with` follows the reading options (crop,
downsampling) and :meth:`GridGeometry.window` a tile, so any stored row can
be drawn on its coordinates. ``fit`` stores the geometry of its first
source in the atlas (see :func:`file_geometry`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .lambert import LambertGrid
from .options import ReaderOptions
from .transform import output_shape

__all__ = ["GridGeometry", "file_geometry"]

_GRIB = frozenset({".grib2", ".grb2", ".grib", ".grb"})
_NETCDF = frozenset({".nc", ".nc4", ".cdf", ".netcdf"})
# Earth radii of GRIB2's shapeOfTheEarth codes for spheres (code table 3.2); ellipsoids get the mean radius.
_GRIB_RADIUS = {0: 6367470.0, 6: 6371229.0, 8: 6371200.0}
_MEAN_RADIUS = 6371229.0


@dataclass(frozen=True)
class GridGeometry:
    """A field's image as read (north up) placed on the earth.

    Parameters
    ----------
    shape : (int, int)
        ``(height, width)`` of the image.
    extent : (float, float, float, float)
        ``(west, east, south, north)`` edges of the image in projection
        units: metres of ``lambert``, or degrees (east, north) without it.
    lambert : LambertGrid, optional
        The Lambert conformal projection; None for a latitude/longitude grid.
    """

    shape: tuple[int, int]
    extent: tuple[float, float, float, float]
    lambert: LambertGrid | None = None

    def forward(self, lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
        """Projection coordinates of points in degrees (longitudes of a lat/lon grid moved into its extent)."""
        if self.lambert is not None:
            return self.lambert.forward(lat, lon)
        west = self.extent[0]
        return (np.asarray(lon, np.float64) - west) % 360.0 + west, np.asarray(lat, np.float64)

    def inverse(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude (degrees, longitudes -180..180) of projection coordinates."""
        if self.lambert is not None:
            lat, lon = self.lambert.inverse(x, y)
        else:
            lat, lon = np.asarray(y, np.float64), np.asarray(x, np.float64)
        return lat, (lon + 180.0) % 360.0 - 180.0

    def aspect(self) -> float:
        """Height over width of the map on the ground (degrees of longitude shrink with latitude)."""
        west, east, south, north = self.extent
        ratio = (north - south) / (east - west)
        if self.lambert is None:
            ratio /= max(0.1, float(np.cos(np.radians((north + south) / 2))))
        return ratio

    def spacing_km(self) -> float:
        """The distance between neighbouring grid points in km: the geometric mean of the two axes' spacings
        (a latitude/longitude grid's at its middle latitude, on a sphere of the mean earth radius)."""
        west, east, south, north = self.extent
        rows, cols = self.shape
        step_x, step_y = (east - west) / cols, (north - south) / rows
        if self.lambert is None:  # degrees to km
            per_degree = np.pi * _MEAN_RADIUS / 180.0 / 1000.0
            step_x *= per_degree * float(np.cos(np.radians((north + south) / 2)))
            step_y *= per_degree
        else:
            step_x, step_y = step_x / 1000.0, step_y / 1000.0
        return float(np.sqrt(abs(step_x * step_y)))

    def window(self, top: int, left: int, height: int, width: int) -> "GridGeometry":
        """The geometry of the pixels ``[top:top + height, left:left + width]`` (clipped to the image)."""
        rows, cols = self.shape
        height, width = max(1, min(height, rows - top)), max(1, min(width, cols - left))
        west, east, south, north = self.extent
        step_x, step_y = (east - west) / cols, (north - south) / rows
        return GridGeometry((height, width), (west + left * step_x, west + (left + width) * step_x,
                                              north - (top + height) * step_y, north - top * step_y), self.lambert)

    def read_with(self, options: ReaderOptions) -> "GridGeometry":
        """The geometry of the image as ``options`` read it: cropped, then downsampled (same extent)."""
        geometry = self if options.crop is None else self.window(*options.crop)
        return GridGeometry(output_shape(self.shape, options), geometry.extent, self.lambert)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, as stored in the atlas's settings."""
        return {"shape": list(self.shape), "extent": list(self.extent),
                "lambert": None if self.lambert is None else asdict(self.lambert)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GridGeometry":
        """Inverse of :meth:`to_dict`."""
        lambert = data.get("lambert")
        return cls(tuple(data["shape"]), tuple(float(v) for v in data["extent"]),
                   None if lambert is None else LambertGrid(**lambert))


def file_geometry(path: str | Path) -> GridGeometry | None:
    """The geometry of the fields of a GRIB or NetCDF file (of its first message or gridded variable).

    Returns None for other files and for grids that are neither Lambert
    conformal nor regular latitude/longitude, or whose header cannot be read
    (the fields are then drawn without a map).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _GRIB:
        import eccodes

        try:
            return _grib_geometry(path)
        except (OSError, eccodes.GribInternalError):
            return None
    if suffix in _NETCDF:
        try:
            return _netcdf_geometry(path)
        except (OSError, AttributeError, IndexError, ValueError):
            return None
    return None


def _grib_geometry(path: Path) -> GridGeometry | None:
    import eccodes

    with open(path, "rb") as handle:
        gid = eccodes.codes_grib_new_from_file(handle, headers_only=True)
        if gid is None:
            return None
        try:
            def get(key: str) -> float:
                return float(eccodes.codes_get(gid, key, float))

            kind = eccodes.codes_get(gid, "gridType")
            shape = (int(get("Nj")), int(get("Ni")))
            first = (get("latitudeOfFirstGridPointInDegrees"), get("longitudeOfFirstGridPointInDegrees"))
            west_east = not int(get("iScansNegatively"))
            south_north = bool(int(get("jScansPositively")))
            if kind == "regular_ll":
                last = (get("latitudeOfLastGridPointInDegrees"), get("longitudeOfLastGridPointInDegrees"))
                return _latlon(shape, first, last, west_east)
            if kind != "lambert":
                return None
            shape_code = int(get("shapeOfTheEarth"))
            radius = (get("scaledValueOfRadiusOfSphericalEarth") / 10 ** get("scaleFactorOfRadiusOfSphericalEarth")
                      if shape_code == 1 else _GRIB_RADIUS.get(shape_code, _MEAN_RADIUS))
            projection = LambertGrid(shape[0], shape[1], get("DxInMetres"), get("DyInMetres"), *first,
                                     lad=get("LaDInDegrees"), lov=get("LoVInDegrees"), latin1=get("Latin1InDegrees"),
                                     latin2=get("Latin2InDegrees"), radius=radius)
        finally:
            eccodes.codes_release(gid)
    x0, y0 = projection.forward(*first)
    xs = x0 + projection.dx * np.arange(shape[1]) * (1 if west_east else -1)
    ys = y0 + projection.dy * np.arange(shape[0]) * (1 if south_north else -1)
    return _lambert(projection, xs, ys)


def _lambert(projection: LambertGrid, xs: np.ndarray, ys: np.ndarray) -> GridGeometry:
    """A Lambert grid of point centres ``xs`` by ``ys`` (metres), first point set to its south-west corner."""
    dx, dy = abs(float(xs[-1] - xs[0])) / max(1, len(xs) - 1), abs(float(ys[-1] - ys[0])) / max(1, len(ys) - 1)
    lat1, lon1 = projection.inverse(xs.min(), ys.min())
    grid = LambertGrid(len(ys), len(xs), dx or projection.dx, dy or projection.dy, round(float(lat1), 6),
                       round(float(lon1) % 360.0, 6), projection.lad, projection.lov, projection.latin1,
                       projection.latin2, projection.radius)
    extent = (float(xs.min()) - grid.dx / 2, float(xs.max()) + grid.dx / 2,
              float(ys.min()) - grid.dy / 2, float(ys.max()) + grid.dy / 2)
    return GridGeometry((len(ys), len(xs)), extent, grid)


def _latlon(shape: tuple[int, int], first: tuple[float, float], last: tuple[float, float],
            west_east: bool) -> GridGeometry:
    """A regular lat/lon grid from its first and last point centres (degrees)."""
    west, east = (first[1], last[1]) if west_east else (last[1], first[1])
    east += 360.0 if east < west else 0.0
    shift = (west + 180.0) % 360.0 - 180.0 - west  # west into -180..180, east with it
    west, east = west + shift, east + shift
    south, north = sorted((first[0], last[0]))
    half_x = (east - west) / max(1, shape[1] - 1) / 2
    half_y = (north - south) / max(1, shape[0] - 1) / 2
    return GridGeometry(shape, (west - half_x, east + half_x, south - half_y, north + half_y))


def _netcdf_geometry(path: Path) -> GridGeometry | None:
    import netCDF4

    with netCDF4.Dataset(path) as dataset:
        variables = dataset.variables
        for variable in variables.values():
            if getattr(variable, "grid_mapping_name", None) == "lambert_conformal_conic":
                return _netcdf_lambert(variables, variable)
        lat = _coordinate(variables, "latitude", ("lat",))
        lon = _coordinate(variables, "longitude", ("lon",))
        if lat is None or lon is None:
            return None
        lats, lons = np.asarray(lat[:], np.float64), np.asarray(lon[:], np.float64)
        return _latlon((len(lats), len(lons)), (lats[0], lons[0]), (lats[-1], lons[-1]), True)


def _coordinate(variables, standard_name: str, names: tuple[str, ...]):
    """The 1-D coordinate variable of that standard name (or one of ``names``), or None."""
    for name, variable in variables.items():
        if variable.ndim == 1 and (getattr(variable, "standard_name", None) == standard_name
                                   or name in (standard_name, *names)):
            return variable
    return None


def _netcdf_lambert(variables, mapping) -> GridGeometry | None:
    x = _coordinate(variables, "projection_x_coordinate", ("x",))
    y = _coordinate(variables, "projection_y_coordinate", ("y",))
    if x is None or y is None:
        return None
    parallels = np.atleast_1d(np.asarray(mapping.standard_parallel, np.float64))
    projection = LambertGrid(len(y), len(x), 1.0, 1.0, 0.0, 0.0,
                             lad=float(getattr(mapping, "latitude_of_projection_origin", parallels[0])),
                             lov=float(mapping.longitude_of_central_meridian) % 360.0,
                             latin1=float(parallels[0]), latin2=float(parallels[-1]),
                             radius=float(getattr(mapping, "earth_radius", _MEAN_RADIUS)))
    scale = {"km": 1000.0}.get(getattr(x, "units", "m"), 1.0)
    return _lambert(projection, np.asarray(x[:], np.float64) * scale, np.asarray(y[:], np.float64) * scale)
