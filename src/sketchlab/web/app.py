"""The drawing studio's web app: one static page and a JSON API over `sketchlab.sampling`.

Endpoints (all JSON; the OpenAPI description is at /openapi.json, the interactive page at /docs):

- `GET  /api/models`       the loaded models (name, conditional, max_seq_len, cell, ...) and the request limits
- `POST /api/sample`       new drawings from the prior (conditional) or from scratch (unconditional)
- `POST /api/complete`     continue the user's drawing `n` ways
- `POST /api/continue`     the same, streamed point by point as the model draws (server-sent events; `web/live.py`)
- `POST /api/reconstruct`  encode the user's drawing and decode it `n` times (conditional models)
- `POST /api/interpolate`  drawings along the latent path between drawings `a` and `b` (conditional models)
- `GET  /api/catalog`      the published Magenta models; `POST /api/catalog/{name}` fetches one (`web/catalog.py`)
- `POST /api/render`       one drawing (or a grid of several) as an SVG or PNG file, drawn by `sketchlab.render`

Drawings travel as stroke-3 lists `[[dx, dy, pen_lifted], ...]`. The page sends them in *canvas pixels* (y down,
the first row is the first point's position on the canvas).

Coordinate scale (canvas pixels -> model units). The canvas is the paper the model draws on: one scale, fixed per
model and per canvas size, maps pixels to the model's data units, so a small partial drawing stays small to the
model (a head in the corner is not blown up into a whole animal) and a completion comes back at the size of what the
user drew. The scale is chosen so that a *typical drawing of the model* spans `CANVAS_FILL` (60 %) of the canvas
side: `units_per_pixel = typical_extent / (CANVAS_FILL * canvas_size)`.

The typical extent (the larger side of a drawing's bounding box, in data units) differs a lot between data sets
(measured on the shared data: about 240 units for aaron_sheep, 86 for kanji, 360 for omniglot; 13, 4 and 7 times
their scale factors), and a model folder stores only `scale_factor`. So it is measured from the model itself, once,
on first use: the median extent of 16 of its own drawings at temperature 0.25 (seed 0), kept between 3 and 30 times
`scale_factor` (an untrained model's scribbles can be any size); a config field `typical_extent`, if a model has one,
is used instead. The user's drawing is then

1. moved so that it starts at the origin (its first row becomes `(0, 0, pen)`: the training drawings start at their
   own origin, never at an arbitrary canvas position), the start point being kept to map results back;
2. simplified stroke by stroke with Ramer-Douglas-Peucker at epsilon = 2/256 of the typical drawing's size (the
   Quick, Draw! preprocessing: RDP with epsilon 2 on a 256 box), so that the pointer's dense samples look like the
   data's; if it still has more points than the model can read, epsilon grows twice (x 1.6 each), and if that is
   not enough the model reads the drawing's most recent part that fits (its oldest strokes are left out, the
   answer's `dropped_strokes` says how many; nothing is refused for its length);
3. multiplied by `units_per_pixel`.

Results are mapped back with the inverse (divided by the scale, moved back to the start point), so a completion
continues exactly where the user's last stroke ended, and a reconstruction lies over the original. `/api/sample` has
no user drawing and answers in the model's data units (`"units": "data"`); the page fits every result into its tile.

Every request is validated by pydantic: sizes (points, strokes, n, steps), ranges (temperature 0..2), finite numbers
only (JSON's NaN and Infinity literals are refused) and pen values 0 or 1. Bad input gets a 4xx answer with a JSON
`detail`: 422 for an invalid request, 404 for an unknown model, 400 for an operation the model cannot do, 413 for a
body over `MAX_BODY_BYTES`.

Serving under load (`web/scheduling.py`): each model has a bounded queue and one worker thread; a waiting request
holds no thread, so other models and `/api/render`, `/api/models` answer meanwhile. Requests to one model with the
same settings and no seed run as one batch; a full queue answers 503 with Retry-After; a request whose client has
hung up leaves the queue without being computed. The server answers only to loopback host names (localhost,
127.0.0.1, [::1]; 400 otherwise, against DNS rebinding) unless `sketchlab serve --host` opened it to the network.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from sketchlab import render, sampling
from sketchlab.errors import SketchlabError
from sketchlab.models.sketch_rnn import SketchRNN
from sketchlab.web.middleware import SECURITY_HEADERS, BodyLimit, LoopbackHostOnly, error_list
from sketchlab.web.catalog import Catalog, add_catalog_routes
from sketchlab.web.live import add_live_routes
from sketchlab.web.placement import completion_prefix, json_rows, placements_between, to_model_units
from sketchlab.web.registry import ModelEntry, ModelRegistry, UnknownModel
from sketchlab.web.scheduling import ClientGone, QueueFull, Scheduler, SchedulerConfig, drawing_job
from sketchlab.web.schemas import (
    MAX_BODY_BYTES,
    REQUEST_LIMITS,
    CompleteRequest,
    DrawingsResponse,
    InterpolateRequest,
    ModelsResponse,
    ReconstructRequest,
    RenderRequest,
    SampleRequest,
)

# The studio's modules: schemas (request and response bodies, limits), registry (the models by name), placement
# (canvas pixels <-> model units), scheduling (when a request runs on its model), middleware (body limit, headers,
# error bodies), server (loading models, uvicorn) and this one (the routes). A new family of endpoints, such as
# live streaming, belongs in a module of its own whose routes create_app adds.

STATIC_DIR = Path(__file__).resolve().parent / "static"
ICON = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'%3E%3Cpath d='M3 17c3-6 6 2 "
        "9-4s5-7 9-5' fill='none' stroke='%232563eb' stroke-width='2.4' stroke-linecap='round'/%3E%3C/svg%3E")


def add_offline_docs(app: FastAPI) -> None:
    """/docs: the interactive API page, its Swagger UI files served from the swagger-ui-bundle-v2 package (FastAPI's
    own page loads them from a CDN, which fails offline)."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css", swagger_favicon_url=ICON)


def create_app(models: Mapping[str, SketchRNN] | ModelRegistry, scheduling: SchedulerConfig | None = None,
               any_host: bool = False) -> FastAPI:
    """The studio for these models, by name: the page at `/`, its files at `/static`, the JSON API at `/api`.
    `any_host`: answer to any Host header (a server open to the network), not only to loopback names."""
    registry = models if isinstance(models, ModelRegistry) else ModelRegistry(models)
    for entry in registry.entries():
        entry.model.eval()
    app = FastAPI(
        title="sketchlab studio",
        summary="Draw with a Sketch-RNN: complete, reconstruct, interpolate and sample stroke drawings.",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        version="1",
        docs_url=None,  # served below from the package's own Swagger UI files, so it works offline
        redoc_url=None,
    )
    app.state.registry = registry
    app.state.scheduler = scheduler = Scheduler(scheduling)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    if not any_host:
        app.add_middleware(LoopbackHostOnly)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": error_list(exc.errors())}, status_code=422)

    @app.exception_handler(SketchlabError)
    async def refused(request: Request, exc: SketchlabError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(UnknownModel)
    async def unknown_model(request: Request, exc: UnknownModel) -> JSONResponse:
        return JSONResponse({"detail": str(exc.args[0])}, status_code=404)

    @app.exception_handler(QueueFull)
    async def busy(request: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(ClientGone)
    async def client_gone(request: Request, exc: ClientGone) -> Response:
        return Response(status_code=499)  # nobody reads it: nginx's "client closed request", for the access log

    def conditional(entry: ModelEntry, verb: str) -> None:
        if not entry.model.config.conditional:
            raise HTTPException(400, f"model {entry.name!r} is unconditional (a decoder without an encoder): "
                                     f"it cannot {verb}; use a conditional model")

    errors = {404: {"description": "unknown model"}, 422: {"description": "invalid request or drawing"},
              413: {"description": "request body too large"},
              503: {"description": "the model's queue is full: retry after the Retry-After header's seconds"}}

    @app.get("/api/models", response_model=ModelsResponse, tags=["api"])
    async def list_models() -> ModelsResponse:
        """The loaded models and the request limits."""
        return ModelsResponse(models=[e.info() for e in registry.entries()], default=registry.default,
                              limits=REQUEST_LIMITS)

    @app.post("/api/sample", response_model=DrawingsResponse, tags=["api"], responses=errors)
    async def sample(body: SampleRequest, request: Request) -> DrawingsResponse:
        """`n` new drawings from the prior (conditional model) or from scratch, in the model's data units."""
        entry = registry.get(body.model)

        def work(e: ModelEntry, n: int):
            return [json_rows(d) for d in sampling.sample(e.model, n, body.temperature, seed=body.seed)],

        drawings, = await scheduler.run(request, entry, drawing_job("sample", body, work))
        return DrawingsResponse(model=entry.name, drawings=drawings, units="data")

    @app.post("/api/complete", response_model=DrawingsResponse, tags=["api"], responses=errors)
    async def complete(body: CompleteRequest, request: Request) -> DrawingsResponse:
        """Continue the drawing `n` ways. Each result holds the drawing as the model read it (`prefix_rows` rows,
        simplified) followed by the model's strokes, in canvas pixels."""
        entry = registry.get(body.model)

        def work(e: ModelEntry, n: int):
            prefix, placement = completion_prefix(body.drawing, e.units_per_pixel(body.canvas_size),
                                                  e.model.config.max_seq_len, body.canvas_size)
            paper = placement.paper(body.canvas_size) if body.stay_on_paper else None
            drawings = sampling.complete(e.model, prefix, n, body.temperature, body.seed, paper=paper)
            return [json_rows(placement.to_canvas(d)) for d in drawings], placement, len(prefix)

        drawings, placement, rows = await scheduler.run(request, entry, drawing_job("complete", body, work))
        return DrawingsResponse(model=entry.name, drawings=drawings, units="canvas", scale=placement.scale,
                                prefix_rows=rows, simplified_points=rows, dropped_strokes=placement.dropped_strokes)

    @app.post("/api/reconstruct", response_model=DrawingsResponse, tags=["api"],
              responses={**errors, 400: {"description": "the model is unconditional"}})
    async def reconstruct(body: ReconstructRequest, request: Request) -> DrawingsResponse:
        """Encode the drawing and decode it `n` times at the temperature, in canvas pixels over the original."""
        entry = registry.get(body.model)
        conditional(entry, "reconstruct drawings")

        def work(e: ModelEntry, n: int):
            drawing, placement = to_model_units(body.drawing, e.units_per_pixel(body.canvas_size),
                                                e.model.config.max_seq_len, body.canvas_size)
            rows = sampling.reconstruct(e.model, [drawing], [body.temperature] * n, seed=body.seed)
            return [json_rows(placement.to_canvas(d)) for d in rows[0]], placement, len(drawing)

        drawings, placement, points = await scheduler.run(request, entry, drawing_job("reconstruct", body, work))
        return DrawingsResponse(model=entry.name, drawings=drawings, units="canvas", scale=placement.scale,
                                simplified_points=points, dropped_strokes=placement.dropped_strokes)

    @app.post("/api/interpolate", response_model=DrawingsResponse, tags=["api"],
              responses={**errors, 400: {"description": "the model is unconditional"}})
    async def interpolate(body: InterpolateRequest, request: Request) -> DrawingsResponse:
        """`steps` drawings decoded along the latent path from `a` to `b` (inclusive), in canvas pixels; each starts
        at a point moving from a's start to b's."""
        entry = registry.get(body.model)
        conditional(entry, "interpolate between drawings")

        def work(e: ModelEntry, n: int):
            scale, limit = e.units_per_pixel(body.canvas_size), e.model.config.max_seq_len
            a, place_a = to_model_units(body.a, scale, limit, body.canvas_size)
            b, place_b = to_model_units(body.b, scale, limit, body.canvas_size)
            drawings = sampling.interpolate(e.model, a, b, body.steps, body.method, body.temperature, body.seed)
            placements = placements_between(place_a, place_b, body.steps)
            return [json_rows(p.to_canvas(d)) for p, d in zip(placements, drawings)], scale

        drawings, scale = await scheduler.run(request, entry, drawing_job("interpolate", body, work))
        return DrawingsResponse(model=entry.name, units="canvas", scale=scale, drawings=drawings)

    add_live_routes(app, registry, errors)
    add_catalog_routes(app, Catalog(registry, device=str(next(registry.entries()[0].model.parameters()).device)))

    @app.post("/api/render", tags=["api"], responses={
        200: {"content": {"image/svg+xml": {}, "image/png": {}}, "description": "the picture, as a download"},
        422: {"description": "invalid request"}, 413: {"description": "request body too large"}})
    async def render_file(body: RenderRequest) -> Response:
        """One drawing (or a grid of several) as an SVG or PNG file, drawn by sketchlab.render."""
        drawings = [np.asarray(d, dtype=np.float64) for d in body.drawings]

        def draw() -> bytes:
            style = {"color_by_order": body.color_by_order}
            if body.format == "svg":
                text = (render.drawing_svg(drawings[0], size=body.size, **style) if len(drawings) == 1
                        else render.grid_svg(drawings, cell=min(body.size, 256), **style))
                return text.encode()
            image = (render.render_image(drawings[0], size=body.size, **style) if len(drawings) == 1
                     else render.grid_image(drawings, cell=min(body.size, 256), **style))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
            return buffer.getvalue()

        content = await run_in_threadpool(draw)
        media = "image/svg+xml" if body.format == "svg" else "image/png"
        return Response(content, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="sketch.{body.format}"'})

    add_offline_docs(app)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.middleware("http")
    async def static_headers(request: Request, call_next):
        response = await call_next(request)
        if request.url.path.startswith("/static/"):
            for key, value in SECURITY_HEADERS.items():
                response.headers.setdefault(key, value)
            response.headers.setdefault("Cache-Control", "no-cache")
        return response

    return app
