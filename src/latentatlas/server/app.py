"""A FastAPI app over one atlas, opened read-only: JSON endpoints, PNG pictures and the page that uses them.

Every endpoint calls one function of the core, in a worker thread on a
database connection of its own (:mod:`latentatlas.server.queries`), so a
slow request delays no other and is stopped after the query timeout. A
:class:`LatentAtlasError` becomes ``{"error": "<one line>", "parameters": [...]}``
(the request parameters the message is about, so the page can show it
beside their fields) with status
400 (a bad parameter, an unknown id), 422 (an unreadable upload or image),
409 (a model that does not match), 408 (past the query timeout), 413 (a
body over the upload limit) or 503 (the server is stopping); a parameter
of the wrong type or out of range is a 400 the same way; anything else is
a bug. An error about several parameters at once (bad analogue options)
also lists each one's own message: ``"errors": [{"error", "parameters"}]``.

Fields are drawn in dBZ colours, as small maps (coastlines, borders) where
the atlas knows its grid. A forecast (``/api/forecast``) is CPU-bound: it
runs on the server's threads for heavy work, within the bounds of
:data:`latentatlas.server.analogues.LIMITS`, and the last few are kept.
"""

from __future__ import annotations

import base64
import io
import logging
import tempfile
import threading
from collections import OrderedDict
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import numpy as np
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.requests import ClientDisconnect

from ..analogues.options import AnalogueOptions
from ..checks import at_least, options_of
from ..atlas import Atlas
from ..errors import BadInputError, LatentAtlasError, NotFittedError, UsageError
from ..jsonable import dumps
from ..ops.embed import reader_options
from ..ops.interpolate import InterpolateOptions
from ..ops.rows import atlas_geometry, read_row, row_geometry
from ..ops.search import SearchOptions
from ..pictures.grids import REFLECTIVITY, field_colours, grid, is_field, reflectivity_legend, to_colour
from ..sources.geometry import GridGeometry
from ..store.clusters import load_run, run_names
from .analogues import Forecast, ForecastRequest, Forecasts, analogue_options, analogue_text, holds_fields
from .queries import Queries, RequestRefused
from .uploads import BodyLimit, check_upload_name, upload_suffix

__all__ = ["create_app"]

_STATIC = Path(__file__).parent / "static"
_log = logging.getLogger(__name__)
_MAX_STEPS = 32
_MAX_MAP_POINTS = 20_000
_MAX_K = 1000  # neighbours one search may ask for (docs/web.md); the CLI and Python take any k, cut at the rows
_MAPS_KEPT = 8  # maps kept made, the most recently asked for


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    """The limits the server holds, checked on creation.

    Parameters
    ----------
    query_timeout : float
        Seconds a request may run before it is interrupted and answered with 408.
    max_upload : int
        Largest request body in bytes (413 beyond it); an uploaded ``.npz``
        may not unpack to more either.
    query_memory : int
        Bytes of memory the clients' SQL (``where`` predicates) may use
        together; a predicate needing more fails with an out-of-memory
        error (none spills to disk: the server writes no temporary files).

    Raises
    ------
    UsageError
        Naming the parameter, for a timeout or limit that is not positive.
    """

    query_timeout: float = 10.0
    max_upload: int = 20_000_000
    query_memory: int = 64_000_000

    def __post_init__(self) -> None:
        if not self.query_timeout > 0:
            raise UsageError(f"query_timeout must be > 0 seconds, got {self.query_timeout:g}", parameter="query_timeout")
        at_least(1)("max_upload", self.max_upload)
        at_least(1)("query_memory", self.query_memory)

    @classmethod
    def in_megabytes(cls, *, query_timeout: float, max_upload: float, query_memory: float) -> "ServerOptions":
        """The limits as ``serve``'s flags give them: sizes in MB (10^6 bytes), each above 0.

        Raises
        ------
        UsageError
            Naming the parameter, for a size that is not above 0 MB, or as the class checks.
        """
        for name, value in (("max_upload", max_upload), ("query_memory", query_memory)):
            if not value > 0:
                raise UsageError(f"{name} must be > 0 MB, got {value:g}", parameter=name)
        return cls(query_timeout=query_timeout, max_upload=max(1, int(max_upload * 1e6)),
                   query_memory=max(1, int(query_memory * 1e6)))


def create_app(atlas_path: str | Path, options: ServerOptions | None = None, **settings: Any) -> FastAPI:
    """The app serving the atlas at ``atlas_path`` (opened read-only, closed when the app shuts down).

    ``options`` (:class:`ServerOptions`) or its fields by name: ``query_timeout``,
    ``max_upload``, ``query_memory``.

    ``app.state.queries`` (:class:`~latentatlas.server.queries.Queries`)
    runs the requests; its ``stop()`` interrupts them when the server stops.
    ``app.state.decoding_off`` is one line saying why the model cannot be
    loaded (damaged weights or configuration), or None: the server starts
    all the same, and what needs no model still works.

    Raises
    ------
    AtlasNotFoundError
        If there is no atlas there.
    UsageError
        For an unknown option, or as :class:`ServerOptions` checks.
    """
    limits = options_of(ServerOptions, options, **settings)
    max_upload = limits.max_upload
    atlas = Atlas.open(atlas_path, read_only=True)
    decoding_off = None
    try:
        atlas.model  # loaded once here, shared by every request's cursor
    except NotFittedError:
        pass  # searches by id still work; the rest say so in one line
    except LatentAtlasError as error:  # damaged weights or configuration: each decoding request says so
        decoding_off = f"{error}; decoding is off (SQL, search by id and the map still work)"
    # A `where` from the page is SQL: it may read the atlas's tables, not the server's files, and
    # fill neither the memory nor the disk (see latentatlas.server.queries).
    queries = Queries(atlas, limits.query_timeout, limits.query_memory)

    def as_json(data: Any) -> Response:
        return Response(dumps(data), media_type="application/json")

    def as_png(image: np.ndarray) -> Response:
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        return Response(buffer.getvalue(), media_type="image/png")

    forecasts = Forecasts()
    if decoding_off is None and holds_fields(atlas):
        forecasts.warm_up()

    def shown(opened: Atlas, image: np.ndarray, place: GridGeometry | None = None) -> np.ndarray:
        """An image as the page shows it: a field in dBZ colours, as a small map where ``place`` is its grid."""
        value_range = opened.model.preprocess.value_range
        if place is None or not is_field(image) or tuple(np.shape(image)[:2]) != tuple(place.shape):
            return to_colour(image, value_range)
        from ..pictures.maps import small_map

        with forecasts.drawing:
            return small_map(image, place, *field_colours(REFLECTIVITY, value_range))

    def place_of(opened: Atlas, id: int | None = None) -> GridGeometry | None:
        """Where row ``id``'s field lies (the whole grid without an id), if the atlas knows its grid."""
        geometry = atlas_geometry(opened.store)
        if geometry is None or id is None:
            return geometry
        return row_geometry(geometry, opened.store.images([id]).get(id))

    def legend(opened: Atlas) -> list[dict[str, Any]] | None:
        """The colours fields are drawn in, one per 5 dBZ up to the clip range, if the atlas's images are fields."""
        if not holds_fields(opened):
            return None
        clip = reader_options(opened.store).clip
        return [{"from": start, "colour": colour} for start, colour in reflectivity_legend(clip)]

    maps: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()  # the atlas is read-only: a map holds
    maps_lock = threading.Lock()

    async def answer(request: Request, work: Callable[[Atlas], Any], picture: bool = False,
                     where: str | None = None, heavy: bool = False) -> Response:
        """``work`` run by :class:`Queries` on the request's own cursor, as JSON or (``picture``) PNG.

        ``where``: the client's predicate the work evaluates, if any;
        ``heavy``: the work is a forecast (see :meth:`Queries.run`).
        """
        encode = as_png if picture else as_json
        return await queries.run(request, lambda opened: encode(work(opened)), predicates=where is not None,
                                 heavy=heavy)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        queries.close()
        atlas.close()

    app = FastAPI(title="latentatlas", description=f"The atlas {atlas.path}", lifespan=lifespan)
    app.state.queries = queries
    app.state.decoding_off = decoding_off
    app.add_middleware(BodyLimit, limit=max_upload)

    @app.exception_handler(LatentAtlasError)
    def user_error(request: Request, error: LatentAtlasError) -> JSONResponse:
        if isinstance(error, RequestRefused):
            status = error.status
        else:
            status = 400 if isinstance(error, UsageError) else 422 if isinstance(error, BadInputError) else 409

        def named(one: LatentAtlasError) -> list[str]:
            return [one.parameter] if isinstance(one.parameter, str) else list(one.parameter or ())

        problems = getattr(error, "problems", (error,))
        return JSONResponse({"error": str(error), "parameters": named(error),
                             "errors": [{"error": str(one), "parameters": named(one)} for one in problems]},
                            status_code=status)

    @app.exception_handler(ClientDisconnect)
    def client_gone(request: Request, error: ClientDisconnect) -> Response:
        """A client that closed the connection while sending its body: one line in the log, no traceback."""
        client = f"{request.client.host}:{request.client.port}" if request.client else "a client"
        _log.warning("%s %s from %s: the client went away before sending the whole body; nothing was done",
                     request.method, request.url.path, client)
        return Response(status_code=400)  # nobody reads it

    @app.exception_handler(RequestValidationError)
    def bad_parameter(request: Request, error: RequestValidationError) -> JSONResponse:
        each = [{"error": f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}",
                 "parameters": [str(e["loc"][1])] if len(e["loc"]) > 1 else []} for e in error.errors()]
        names = list(dict.fromkeys(name for one in each for name in one["parameters"]))
        return JSONResponse({"error": "; ".join(one["error"] for one in each), "parameters": names, "errors": each},
                            status_code=400)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(_STATIC / "index.html", media_type="text/html")

    @app.get("/api/info")
    async def info(request: Request) -> Response:
        """The atlas's summary (as ``latentatlas info --json``), its cluster runs, its time span and field legend.

        ``times`` is ``{"first", "last"}`` (None without times); ``legend``
        the dBZ colour steps when the images are radar fields (else None).
        """
        def summary(opened: Atlas) -> dict[str, Any]:
            first, last = opened.store.con.execute("SELECT min(time), max(time) FROM images").fetchall()[0]
            return {**opened.info(), "runs": run_names(opened.store),
                    "times": None if first is None else {"first": first, "last": last}, "legend": legend(opened)}

        return await answer(request, summary)

    @app.get("/api/search")
    async def search(request: Request, id: int | None = None, time: str | None = None, tile_row: int | None = None,
                     tile_col: int | None = None, k: int = Query(10, ge=1, le=_MAX_K), where: str | None = None,
                     exclude_within: str | None = None,
                     analogue: AnalogueOptions = Depends(analogue_options)) -> Response:
        """The ``k`` nearest rows of a stored row, given by ``id`` or by ``time`` (and its tile).

        The analogue options (``season_window``, ``min_separation``, ``trend``,
        ``region``, ``channel_weights``) are those of :meth:`Atlas.search`.
        """
        tile = None if tile_row is None and tile_col is None else (tile_row, tile_col)
        options = SearchOptions(k=k, where=where, exclude_within=exclude_within, analogue=analogue)
        return await answer(request, lambda opened: opened.search(id=id, time=time, tile=tile, options=options).to_dict(),
                            where=where)

    @app.post("/api/search")
    async def search_upload(request: Request, filename: str = "upload", k: int = Query(10, ge=1, le=_MAX_K),
                            where: str | None = None, exclude_within: str | None = None) -> Response:
        """The ``k`` nearest rows of the image or array file sent as the request body.

        What the body is comes from its content; ``filename`` only labels it in the answer, and
        ``picture`` shows the query as read (a PNG data URL), for the page to show beside its results.
        """
        name = check_upload_name(filename)
        options = SearchOptions(k=k, where=where, exclude_within=exclude_within)
        body = await request.body()  # at most max_upload bytes (BodyLimit)
        if not body:
            raise UsageError("send the query image as the request body")

        def found(opened: Atlas) -> dict[str, Any]:
            suffix = upload_suffix(body, name, max_upload)
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / f"upload{suffix}"
                path.write_bytes(body)
                try:
                    searched = opened.search(path, options=options)
                except LatentAtlasError as error:  # name the upload, not where it was kept
                    raise type(error)(str(error).replace(str(path.resolve()), name).replace(str(path), name)) from None
            result = searched.to_dict()
            result["query"] = {**result["query"], "image": name}
            result["picture"] = "data:image/png;base64," + base64.b64encode(
                as_png(shown(opened, searched.pixels)).body).decode()  # the query beside its results
            return result

        return await answer(request, found, where=where)

    @app.get("/api/images/{id}.png")
    async def stored_image(request: Request, id: int) -> Response:
        """Row ``id``'s image, read again as it was embedded (a field on its grid: a small map)."""
        return await answer(request, lambda opened: shown(opened, read_row(opened.store, id), place_of(opened, id)),
                            picture=True)

    @app.get("/api/decoded/{id}.png")
    async def decoded_image(request: Request, id: int) -> Response:
        """The image decoded from row ``id``'s code (a field on its grid: a small map)."""
        return await answer(request, lambda opened: shown(opened, opened.decode(id=id), place_of(opened, id)),
                            picture=True)

    @app.get("/api/clusters/{run}")
    async def cluster_run(request: Request, run: str) -> Response:
        """A stored run's settings and scores, and each cluster's size."""
        def summary(opened: Atlas) -> dict[str, Any]:
            stored = load_run(opened.store, run)
            sizes = np.bincount(stored.clusters, minlength=len(stored.centroids))
            return {"run": run, "info": stored.info, "sizes": sizes.tolist()}

        return await answer(request, summary)

    @app.get("/api/clusters/{run}/{cluster}.png")
    async def centroid_image(request: Request, run: str, cluster: int) -> Response:
        """Cluster ``cluster``'s centre of run ``run``, decoded."""
        def centre(opened: Atlas) -> np.ndarray:
            stored = load_run(opened.store, run)
            if not 0 <= cluster < len(stored.centroids):
                raise UsageError(f"run {run!r} has clusters 0 to {len(stored.centroids) - 1}, not {cluster}")
            return shown(opened, opened.decode(vector=stored.centroids[cluster].tolist()), place_of(opened))

        return await answer(request, centre, picture=True)

    @app.get("/api/map")
    async def space_map(request: Request, color_by: str = "label",
                        limit: int = Query(5000, ge=1, le=_MAX_MAP_POINTS)) -> Response:
        """A 2-D PCA map of up to ``limit`` stored codes, coloured by ``color_by`` (the last 8 asked for are kept).

        ``color_by`` is ``label``, ``time``, ``cluster:RUN`` or ``none``; see
        :func:`latentatlas.ops.project.map_points`.
        """
        def points(opened: Atlas) -> dict[str, Any]:
            from ..ops.project import map_points  # scikit-learn's PCA: loaded when a map is first asked for

            key = (color_by, limit)
            with maps_lock:
                if key in maps:
                    maps.move_to_end(key)
                    return maps[key]
            made = map_points(opened.store, color_by, limit)
            with maps_lock:
                maps[key] = made
                while len(maps) > _MAPS_KEPT:
                    maps.popitem(last=False)
            return made

        return await answer(request, points)

    @app.get("/api/interpolate/{frame}.png")
    async def interpolation_frame(request: Request, frame: int, a: int, b: int,
                                  steps: int = Query(8, ge=2, le=_MAX_STEPS), spherical: bool = False) -> Response:
        """Frame ``frame`` (0 is row ``a``, ``steps - 1`` row ``b``) of the interpolation, decoded."""
        options = InterpolateOptions(steps=steps, spherical=spherical)

        def one(opened: Atlas) -> np.ndarray:
            if not 0 <= frame < steps:
                raise UsageError(f"frame must be from 0 to {steps - 1}, got {frame}")
            return shown(opened, opened.interpolate(a, b, options=options).frames[frame])

        return await answer(request, one, picture=True)

    @app.get("/api/interpolate.png")
    async def interpolation(request: Request, a: int, b: int, steps: int = Query(8, ge=2, le=_MAX_STEPS),
                            spherical: bool = False) -> Response:
        """The decoded codes from row ``a``'s to row ``b``'s, ends included, side by side."""
        options = InterpolateOptions(steps=steps, spherical=spherical)

        def strip(opened: Atlas) -> np.ndarray:
            frames = opened.interpolate(a, b, options=options).frames
            return grid([shown(opened, frame) for frame in frames], columns=len(frames))

        return await answer(request, strip, picture=True)

    def forecast_request(time: str | None = None, id: int | None = None, tile_row: int | None = None,
                         tile_col: int | None = None, lead: str = "1h,3h,6h", k: int = 10, threshold: str = "20,35",
                         reference: str | None = "extrapolation", blend: bool = True,
                         analogue: tuple = Depends(analogue_text)) -> Forecast:
        """The forecast view's query parameters, named as the ``forecast`` command's flags (``reference`` empty: none),
        checked at once: a bad one is answered without waiting for a forecast's thread."""
        tile = None if tile_row is None and tile_col is None else (tile_row, tile_col)
        return ForecastRequest(time, id, tile, lead, k, threshold, reference, blend, analogue).checked()

    @app.get("/api/forecast")
    async def forecast(request: Request, asked: Forecast = Depends(forecast_request)) -> Response:
        """The analogue forecast of the hours after ``time`` (or row ``id``) at each ``lead``.

        Per lead the members' mean, spread and exceedance of each
        ``threshold``, the nowcast ``reference`` (extrapolation, steps) and
        the ``blend``, with the truth where stored (:meth:`Atlas.forecast`'s
        JSON), and ``picture``: all of it as maps (a PNG data URL).
        """
        return await answer(request, lambda opened: forecasts.view(
            opened, asked, lambda png: "data:image/png;base64," + base64.b64encode(png).decode() if png else None),
            heavy=True)

    @app.get("/api/forecast.png")
    async def forecast_picture(request: Request, asked: Forecast = Depends(forecast_request)) -> Response:
        """The maps of :func:`forecast` as a PNG (made once for both when asked for soon after)."""
        def png(opened: Atlas) -> Response:
            made = forecasts.made(opened, asked)["png"]
            if made is None:
                raise UsageError("this forecast's members are not 2-D fields: there is no map to draw")
            return Response(made, media_type="image/png")

        return await queries.run(request, png, heavy=True)

    return app
