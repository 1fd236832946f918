"""Options that say how the commands that read images (fit, build, embed) read their sources."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from ..errors import UsageError
from .common import parse_numbers

__all__ = [
    "VariableOption", "FilterOption", "FillOption", "ClipOption", "CropOption", "ScaleOption",
    "TileOption", "StrideOption", "MaxPixelsOption", "reader_changes",
]

_PANEL = "Reading sources"
VariableOption = Annotated[Optional[list[str]], typer.Option(
    "--variable", help="GRIB short name or NetCDF variable (refc selects HRRR composite reflectivity); "
    "repeat or comma-separate to stack channels.", rich_help_panel=_PANEL)]
FilterOption = Annotated[Optional[list[str]], typer.Option(
    "--filter", help="GRIB key a message must have, KEY=VALUE (e.g. typeOfLevel=atmosphere); repeatable.",
    rich_help_panel=_PANEL)]
FillOption = Annotated[Optional[float], typer.Option(
    "--fill", help="Value for NaN and missing points (default 0 for GRIB/NetCDF fields).", rich_help_panel=_PANEL)]
ClipOption = Annotated[Optional[str], typer.Option(
    "--clip", help="LOW,HIGH: clip values (e.g. 0,60 dBZ); also the default --value-range.", rich_help_panel=_PANEL)]
CropOption = Annotated[Optional[str], typer.Option(
    "--crop", help="TOP,LEFT,HEIGHT,WIDTH in pixels (fields north up), before --scale.", rich_help_panel=_PANEL)]
ScaleOption = Annotated[Optional[float], typer.Option(
    "--scale", help="Downsample by this factor in (0, 1] (area average), e.g. 0.25.", rich_help_panel=_PANEL)]
TileOption = Annotated[Optional[int], typer.Option(
    "--tile", help="Cut images into N x N tiles, one row each (tile_row, tile_col).", rich_help_panel=_PANEL)]
StrideOption = Annotated[Optional[int], typer.Option(
    "--stride", help="Step between tiles (default: the tile size).", rich_help_panel=_PANEL)]
MaxPixelsOption = Annotated[Optional[int], typer.Option(
    "--max-pixels", help="Refuse image files whose header claims more pixels (default 100000000), before decoding.",
    rich_help_panel=_PANEL)]


def reader_changes(
    variable: list[str] | None = None,
    filters: list[str] | None = None,
    fill: float | None = None,
    clip: str | None = None,
    crop: str | None = None,
    scale: float | None = None,
    tile: int | None = None,
    stride: int | None = None,
    max_pixels: int | None = None,
) -> dict[str, Any]:
    """The reader settings given on the command line, parsed, by :class:`ReaderOptions` field name."""
    changes: dict[str, Any] = {}
    if variable:
        changes["variables"] = tuple(v.strip() for text in variable for v in text.split(",") if v.strip())
    if filters:
        changes["filters"] = tuple(_key_value(text) for text in filters)
    if clip is not None:
        changes["clip"] = tuple(_count(parse_numbers(clip, "--clip"), 2, "--clip", "LOW,HIGH"))
    if crop is not None:
        numbers = _count(parse_numbers(crop, "--crop"), 4, "--crop", "TOP,LEFT,HEIGHT,WIDTH")
        if any(n != int(n) for n in numbers):
            raise UsageError(f"--crop takes whole pixels, got {crop!r}")
        changes["crop"] = tuple(int(n) for n in numbers)
    for name, value in (("fill", fill), ("scale", scale), ("tile", tile), ("stride", stride),
                        ("max_pixels", max_pixels)):
        if value is not None:
            changes[name] = value
    return changes


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise UsageError(f"--filter must be KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _count(numbers: list[float], n: int, option: str, form: str) -> list[float]:
    if len(numbers) != n:
        raise UsageError(f"{option} must be {form}, got {len(numbers)} number(s)")
    return numbers
