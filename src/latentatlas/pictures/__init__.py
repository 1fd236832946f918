"""Pictures: image grids and result rows, loss curves, scatter plots, maps on the earth, HTML reports."""
