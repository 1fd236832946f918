"""The HTML report: figures shown at a size where their smallest text is 10 px, pixel pictures left sharp."""

from __future__ import annotations

import re

import numpy as np


def test_a_figure_is_shown_large_enough_for_its_text_and_an_array_stays_pixelated():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentatlas.pictures.report import Report

    figure = plt.figure(figsize=(17, 3))  # as wide as the weather report's widest
    figure.text(0.5, 0.5, "tick", fontsize=6)
    page = Report("t").picture(figure, "a wide figure").picture(np.zeros((8, 8, 3), np.uint8), "tiles").html()
    width = int(re.search(r'<figure class="plot"><img width="(\d+)"', page)[1])
    assert width * 6 / 72 / 17 >= 10  # 6 pt at the shown size: at least 10 CSS px
    assert '<figure class="pixels"><img class="pixels"' in page and "figure.plot img { max-width: none; }" in page
