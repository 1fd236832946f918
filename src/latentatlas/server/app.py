"""A FastAPI app over one atlas, opened read-only: JSON endpoints, PNG pictures and the page that uses them.

Every endpoint calls one function of the core. A :class:`LatentAtlasError`
becomes ``{"error": "<one line>"}`` with status 400 (a bad parameter, an
unknown id), 422 (an unreadable image) or 409 (a model that does not match);
a parameter of the wrong type or out of range is a 400 the same way;
anything else is a bug. Calls are serialised by a lock: the atlas's DuckDB
connection and its loaded codes are shared.
"""

from __future__ import annotations

import io
import tempfile
import threading
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response

from ..atlas import Atlas
from ..clusters import load_run, run_names
from ..errors import BadInputError, LatentAtlasError, UsageError
from ..jsonable import dumps
from ..ops.rows import read_row
from ..viz import grid, to_colour

__all__ = ["create_app"]

_STATIC = Path(__file__).parent / "static"
_MAX_STEPS = 32


def create_app(atlas_path: str | Path) -> FastAPI:
    """The app serving the atlas at ``atlas_path`` (opened read-only, closed when the app shuts down).

    Raises
    ------
    AtlasNotFoundError
        If there is no atlas there.
    """
    atlas = Atlas.open(atlas_path, read_only=True)
    # A `where` from the page is SQL: it may read the atlas's tables, not the server's files.
    atlas.store.con.execute("SET enable_external_access = false")
    lock = threading.Lock()

    @contextmanager
    def using_atlas() -> Iterator[Atlas]:
        with lock:
            yield atlas

    def as_json(data: Any) -> Response:
        return Response(dumps(data), media_type="application/json")

    def as_png(image: np.ndarray) -> Response:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        return Response(buffer.getvalue(), media_type="image/png")

    def shown(image: np.ndarray) -> np.ndarray:  # under the lock: the model loads on first use
        return to_colour(image, atlas.model.preprocess.value_range)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        atlas.close()

    app = FastAPI(title="latentatlas", description=f"The atlas {atlas.path}", lifespan=lifespan)

    @app.exception_handler(LatentAtlasError)
    def user_error(request: Request, error: LatentAtlasError) -> JSONResponse:
        status = 400 if isinstance(error, UsageError) else 422 if isinstance(error, BadInputError) else 409
        return JSONResponse({"error": str(error)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    def bad_parameter(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in error.errors())
        return JSONResponse({"error": problems}, status_code=400)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(_STATIC / "index.html", media_type="text/html")

    @app.get("/api/info")
    def info() -> Response:
        """The atlas's summary (as ``latentatlas info --json``) and its cluster runs."""
        with using_atlas() as opened:
            return as_json({**opened.info(), "runs": run_names(opened.store)})

    @app.get("/api/search")
    def search(id: int | None = None, time: str | None = None, tile_row: int | None = None,
               tile_col: int | None = None, k: int = 10, where: str | None = None,
               exclude_within: str | None = None) -> Response:
        """The ``k`` nearest rows of a stored row, given by ``id`` or by ``time`` (and its tile)."""
        tile = None if tile_row is None and tile_col is None else (tile_row, tile_col)
        with using_atlas() as opened:
            result = opened.search(id=id, time=time, tile=tile, k=k, where=where, exclude_within=exclude_within)
            return as_json(result.to_dict())

    @app.post("/api/search")
    async def search_image(request: Request, filename: str = "query.png", k: int = 10, where: str | None = None,
                           exclude_within: str | None = None) -> Response:
        """The ``k`` nearest rows of the image file sent as the request body (``filename`` gives its type)."""
        body = await request.body()
        if not body:
            raise UsageError("send the query image as the request body")
        name = Path(filename).name
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(body)
            try:
                with using_atlas() as opened:
                    result = opened.search(path, k=k, where=where, exclude_within=exclude_within).to_dict()
            except LatentAtlasError as error:  # name the upload, not where it was kept
                raise type(error)(str(error).replace(str(path), name)) from None
        result["query"] = {"image": name}
        return as_json(result)

    @app.get("/api/images/{id}.png")
    def stored_image(id: int) -> Response:
        """Row ``id``'s image, read again as it was embedded."""
        with using_atlas() as opened:
            return as_png(shown(read_row(opened.store, id)))

    @app.get("/api/decoded/{id}.png")
    def decoded_image(id: int) -> Response:
        """The image decoded from row ``id``'s code."""
        with using_atlas() as opened:
            return as_png(shown(opened.decode(id=id)))

    @app.get("/api/clusters/{run}")
    def cluster_run(run: str) -> Response:
        """A stored run's settings and scores, and each cluster's size."""
        with using_atlas() as opened:
            stored = load_run(opened.store, run)
        sizes = np.bincount(stored.clusters, minlength=len(stored.centroids))
        return as_json({"run": run, "info": stored.info, "sizes": sizes.tolist()})

    @app.get("/api/clusters/{run}/{cluster}.png")
    def centroid_image(run: str, cluster: int) -> Response:
        """Cluster ``cluster``'s centre of run ``run``, decoded."""
        with using_atlas() as opened:
            stored = load_run(opened.store, run)
            if not 0 <= cluster < len(stored.centroids):
                raise UsageError(f"run {run!r} has clusters 0 to {len(stored.centroids) - 1}, not {cluster}")
            return as_png(shown(opened.decode(vector=stored.centroids[cluster].tolist())))

    @app.get("/api/interpolate.png")
    def interpolation(a: int, b: int, steps: int = Query(8, ge=2, le=_MAX_STEPS), spherical: bool = False) -> Response:
        """The decoded codes from row ``a``'s to row ``b``'s, ends included, side by side."""
        with using_atlas() as opened:
            frames = opened.interpolate(a, b, steps, spherical).frames
            return as_png(grid([shown(frame) for frame in frames], columns=len(frames)))

    return app
