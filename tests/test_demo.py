"""The photos demo end to end, with a one-second training budget."""

from __future__ import annotations

import json
import re

from latentatlas.sources import read_image


def test_photos_demo_writes_a_report_with_pictures(cli, tmp_path):
    atlas = tmp_path / "demo.atlas"
    result = cli("demo", "photos", "--atlas", atlas, "--time-budget", "1", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] > 500 and summary["psnr_val"] > 15.0
    html = (atlas / "report.html").read_text()
    assert len(re.findall(r'<img src="data:image/png;base64,', html)) == 3
    for heading in ("Training", "Originals and reconstructions", "Search"):
        assert heading in html
    info = json.loads(cli("info", "--atlas", atlas, "--json").stdout)
    assert info["embedded"] == summary["images"]
    assert read_image(next((atlas / "samples" / "photos").glob("*.png"))).shape == (64, 64, 3)
