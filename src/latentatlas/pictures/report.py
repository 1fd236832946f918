"""A self-contained HTML report: headings, text, tables and pictures embedded as PNG."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = ["Report"]

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f4f4f4; } figure { margin: 1em 0; } figcaption { color: #555; font-size: 0.9em; }
figure.plot { overflow-x: auto; } figure.plot img { max-width: none; }
img.pixels { max-width: 100%; image-rendering: pixelated; }
"""
_SMALLEST_PT = 6  # the smallest font our figures use
_MIN_TEXT_PX = 10  # shown no smaller than this


class Report:
    """Builds one HTML page; pictures are embedded so the file stands alone.

    Parameters
    ----------
    title : str
    """

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []

    def heading(self, text: str) -> "Report":
        """A section heading."""
        self.parts.append(f"<h2>{html.escape(text)}</h2>")
        return self

    def paragraph(self, text: str) -> "Report":
        """A paragraph of plain text."""
        self.parts.append(f"<p>{html.escape(text)}</p>")
        return self

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> "Report":
        """A table; floats are shown with four significant digits."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_format(v))}</td>" for v in row) + "</tr>" for row in rows
        )
        self.parts.append(f"<table><tr>{head}</tr>{body}</table>")
        return self

    def picture(self, picture, caption: str = "") -> "Report":
        """A matplotlib figure, an ``(H, W, 3)`` uint8 array, or PNG bytes."""
        from .grids import figure_png

        if isinstance(picture, np.ndarray):
            import io

            from PIL import Image

            buffer = io.BytesIO()
            Image.fromarray(picture).save(buffer, format="PNG")
            png = buffer.getvalue()
        elif isinstance(picture, bytes):
            png = picture
        else:
            png = figure_png(picture)
        data = base64.b64encode(png).decode("ascii")
        caption_html = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        width = _plot_width(png)
        shown = 'class="pixels"' if width is None else f'width="{width}"'
        kind = "plot" if width is not None else "pixels"
        self.parts.append(f'<figure class="{kind}"><img {shown} src="data:image/png;base64,{data}" '
                          f'alt="{html.escape(caption)}">{caption_html}</figure>')
        return self

    def html(self) -> str:
        """The whole page."""
        body = "\n".join(self.parts)
        title = html.escape(self.title)
        return (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{title}</title>"
                f"<style>{_STYLE}</style></head><body><h1>{title}</h1>\n{body}\n</body></html>\n")

    def write(self, path: str | Path) -> Path:
        """Write the page to ``path``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.html(), encoding="utf-8")
        return path


def _plot_width(png: bytes) -> int | None:
    """The CSS width that shows a matplotlib PNG's smallest text at 10 px or more; None for a picture without a dpi.

    A figure is never shrunk to the page (its text would be 5 px); a wide
    one scrolls sideways instead.
    """
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        dpi = image.info.get("dpi")
        if not dpi:
            return None
        text_px = _SMALLEST_PT / 72 * float(dpi[0])  # the smallest text, in the PNG's pixels
        return round(image.width * max(1.0, _MIN_TEXT_PX / text_px))


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
