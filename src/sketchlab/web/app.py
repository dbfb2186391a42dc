"""The drawing studio's web app: one static page and a JSON API over `sketchlab.sampling`.

Endpoints (all JSON; the OpenAPI description is at /openapi.json, the interactive page at /docs):

- `GET  /api/models`       the loaded models (name, conditional, max_seq_len, cell, ...) and the request limits
- `POST /api/sample`       new drawings from the prior (conditional) or from scratch (unconditional)
- `POST /api/complete`     continue the user's drawing `n` ways
- `POST /api/reconstruct`  encode the user's drawing and decode it `n` times (conditional models)
- `POST /api/interpolate`  drawings along the latent path between drawings `a` and `b` (conditional models)
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
   data's; if it still has more points than the model can read, epsilon grows until it fits, or the request is
   refused with a 422 that says so;
3. multiplied by `units_per_pixel`.

Results are mapped back with the inverse (divided by the scale, moved back to the start point), so a completion
continues exactly where the user's last stroke ended, and a reconstruction lies over the original. `/api/sample` has
no user drawing and answers in the model's data units (`"units": "data"`); the page fits every result into its tile.

Every request is validated by pydantic: sizes (points, strokes, n, steps), ranges (temperature 0..2), finite numbers
only (JSON's NaN and Infinity literals are refused) and pen values 0 or 1. Bad input gets a 4xx answer with a JSON
`detail`: 422 for an invalid request, 404 for an unknown model, 400 for an operation the model cannot do, 413 for a
body over `MAX_BODY_BYTES`. Inference runs in a worker thread (never on the event loop), one request per model at a
time (a lock per model), so other requests are answered meanwhile.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import math
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sketchlab import render, sampling
from sketchlab.data.strokes import simplify
from sketchlab.errors import DataError, SketchlabError
from sketchlab.models.sketch_rnn import SketchRNN

log = logging.getLogger("sketchlab")

STATIC_DIR = Path(__file__).resolve().parent / "static"

# ------------------------------------------------------------------------------------------------ request limits

MAX_POINTS = 1000  # rows of one drawing as sent (before simplification)
MAX_STROKES = 100  # pen lifts in one drawing
MAX_COORD = 1e5  # |dx|, |dy| in canvas pixels
MAX_N = 16  # candidates per request
MIN_STEPS, MAX_STEPS = 2, 16  # interpolation steps
MAX_TEMPERATURE = 2.0
MAX_RENDER_DRAWINGS = 64
MAX_BODY_BYTES = 512 * 1024
MAX_ERRORS_SHOWN = 20

DEFAULT_CANVAS = 512  # side of the page's canvas, in pixels
CANVAS_FILL = 0.6  # a typical drawing of the model spans this fraction of the canvas side
RDP_FRACTION = 2 / 256  # Quick, Draw!'s simplification: epsilon 2 on drawings scaled into a 256 box
RDP_GROWTH, RDP_TRIES = 1.6, 16
EXTENT_SAMPLES, EXTENT_TEMPERATURE = 16, 0.25
EXTENT_RANGE = (3.0, 30.0)  # the typical extent, in scale factors, is kept in this range
MAX_OUTPUT_COORD = 1e6  # a result's offsets are clipped to this (an untrained model can wander far)

NAME_PATTERN = r"^[^\x00-\x1f\x7f/\\]{1,100}$"

# ------------------------------------------------------------------------------------------------ request bodies


def _check_strokes(drawing: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    strokes = sum(row[2] for row in drawing)
    if strokes > MAX_STROKES:
        raise ValueError(f"the drawing has {strokes} strokes; at most {MAX_STROKES} are accepted")
    return drawing


Coordinate = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_COORD, le=MAX_COORD)]
Pen = Annotated[int, Field(ge=0, le=1, description="1: the pen lifts after this point")]
Row = tuple[Coordinate, Coordinate, Pen]
Drawing = Annotated[list[Row], Field(
    min_length=1, max_length=MAX_POINTS,
    description=f"stroke-3 rows [dx, dy, pen_lifted] in canvas pixels, y down (at most {MAX_POINTS} points, "
                f"{MAX_STROKES} strokes)",
    examples=[[[120, 80, 0], [30, 0, 0], [0, 30, 0], [-30, 0, 1]]],
), AfterValidator(_check_strokes)]
Temperature = Annotated[float, Field(
    allow_inf_nan=False, ge=0, le=MAX_TEMPERATURE,
    description="sampling temperature: 0 is greedy, higher is wilder",
)]
Count = Annotated[int, Field(ge=1, le=MAX_N, description=f"how many drawings (1..{MAX_N})")]
Seed = Annotated[int | None, Field(ge=0, le=2**32 - 1, description="random seed for repeatable drawings")]
ModelName = Annotated[str | None, Field(
    max_length=100, description="a name from GET /api/models; the first model when left out",
)]
CanvasSize = Annotated[float, Field(
    allow_inf_nan=False, ge=16, le=8192,
    description="side of the canvas the drawing was made on, in pixels: sets the scale (see the API description)",
)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: ModelName = None


class SampleRequest(_Request):
    n: Count = 4
    temperature: Temperature = 0.65
    seed: Seed = None


class CompleteRequest(_Request):
    drawing: Drawing
    n: Count = 4
    temperature: Temperature = 0.5
    seed: Seed = None
    canvas_size: CanvasSize = DEFAULT_CANVAS


class ReconstructRequest(_Request):
    drawing: Drawing
    n: Count = 1
    temperature: Temperature = 0.3
    seed: Seed = None
    canvas_size: CanvasSize = DEFAULT_CANVAS


class InterpolateRequest(_Request):
    a: Drawing
    b: Drawing
    steps: Annotated[int, Field(ge=MIN_STEPS, le=MAX_STEPS, description="drawings from a to b inclusive")] = 8
    temperature: Temperature = 0.0
    method: Literal["slerp", "lerp"] = "slerp"
    seed: Seed = 0
    canvas_size: CanvasSize = DEFAULT_CANVAS


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    drawings: Annotated[list[Drawing], Field(min_length=1, max_length=MAX_RENDER_DRAWINGS)]
    format: Literal["svg", "png"] = "svg"
    size: Annotated[int, Field(ge=32, le=1024, description="side of the picture (of each cell for a grid)")] = 512
    color_by_order: bool = False


# ----------------------------------------------------------------------------------------------- response bodies

OutRow = tuple[float, float, int]


class ModelInfo(BaseModel):
    name: str
    conditional: bool
    max_seq_len: int
    cell: str
    z_size: int | None
    num_mixture: int
    enc_hidden: int | None
    dec_hidden: int
    scale_factor: float


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    default: str
    limits: dict[str, int | float]


class DrawingsResponse(BaseModel):
    model: str
    drawings: list[list[OutRow]]
    units: Literal["canvas", "data"] = Field(description="canvas: pixels of the request's drawing; data: model units")
    scale: float | None = Field(None, description="model units per canvas pixel used for the request's drawing")
    prefix_rows: int | None = Field(
        None, description="complete only: each result starts with this many rows of the (simplified) user drawing")
    simplified_points: int | None = Field(None, description="points of the user's drawing as the model read it")


# ---------------------------------------------------------------------------------------------------- the models


@dataclasses.dataclass
class ModelEntry:
    """A loaded model with the lock that lets one request at a time use it."""

    name: str
    model: SketchRNN
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    extent: float | None = None  # the typical drawing's larger side, in data units (measured on first use)

    def typical_extent(self) -> float:
        """The larger side of a typical drawing of this model, in data units (call with the lock held)."""
        if self.extent is None:
            self.extent = measure_extent(self.model)
        return self.extent

    def units_per_pixel(self, canvas_size: float) -> float:
        return self.typical_extent() / (CANVAS_FILL * canvas_size)

    def info(self) -> ModelInfo:
        c = self.model.config
        return ModelInfo(name=self.name, conditional=c.conditional, max_seq_len=c.max_seq_len, cell=c.cell,
                         z_size=c.z_size if c.conditional else None, num_mixture=c.num_mixture,
                         enc_hidden=c.enc_hidden if c.conditional else None, dec_hidden=c.dec_hidden,
                         scale_factor=float(c.scale_factor))


class UnknownModel(LookupError):
    """A request named a model the studio does not have (answered 404)."""


class ModelRegistry:
    """The models the studio offers, by name. `get` is the single place a request's model is looked up (a model
    zoo that loads pretrained models on demand plugs in by overriding it and `entries`)."""

    def __init__(self, models: Mapping[str, SketchRNN]) -> None:
        if not models:
            raise DataError("the studio needs at least one model")
        self._entries: dict[str, ModelEntry] = {}
        for name, model in models.items():
            if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
                raise DataError(f"bad model name {name!r}: use 1 to 100 printable characters without slashes")
            self._entries[name] = ModelEntry(name, model)

    def entries(self) -> list[ModelEntry]:
        return list(self._entries.values())

    @property
    def default(self) -> str:
        return next(iter(self._entries))

    def get(self, name: str | None) -> ModelEntry:
        """The model called `name` (the default model for None), or UnknownModel."""
        key = self.default if name is None else name
        try:
            return self._entries[key]
        except KeyError:
            raise UnknownModel(f"unknown model {key!r}; available: {', '.join(self._entries)}") from None


# ----------------------------------------------------------------------------------------- canvas <-> model units


def measure_extent(model: SketchRNN) -> float:
    """The median larger side of the model's own drawings (see the module docstring), in data units."""
    factor = float(model.config.scale_factor)
    given = getattr(model.config, "typical_extent", None)
    if isinstance(given, (int, float)) and math.isfinite(given) and given > 0:
        return float(given)
    drawings = sampling.sample(model, EXTENT_SAMPLES, EXTENT_TEMPERATURE, seed=0)
    sides = [float(np.ptp(np.cumsum(d[:, :2], axis=0), axis=0).max()) for d in drawings if len(d) >= 2]
    sides = [side for side in sides if math.isfinite(side)]
    low, high = EXTENT_RANGE
    typical = float(np.median(sides)) if sides else 10 * factor
    return float(np.clip(typical, low * factor, high * factor))


@dataclasses.dataclass(frozen=True)
class Placement:
    """How a canvas drawing was mapped into model units: model = (canvas - origin) * scale."""

    origin: tuple[float, float]
    scale: float

    def to_canvas(self, stroke3: np.ndarray) -> np.ndarray:
        out = np.array(stroke3, dtype=np.float64)
        out[:, :2] /= self.scale
        if len(out):
            out[0, :2] += self.origin
        return out


def to_model_units(drawing: list, units_per_pixel: float, max_rows: int,
                   canvas_size: float = DEFAULT_CANVAS) -> tuple[np.ndarray, Placement]:
    """A validated canvas drawing as stroke-3 float32 in the model's data units (see the module docstring)."""
    rows = np.asarray(drawing, dtype=np.float64).reshape(-1, 3)
    origin = (float(rows[0, 0]), float(rows[0, 1]))
    rows[0, :2] = 0.0
    last_pen = rows[-1, 2]
    epsilon = RDP_FRACTION * CANVAS_FILL * canvas_size  # 2/256 of the typical drawing's size, in pixels
    simple = simplify(rows, epsilon).astype(np.float64)
    for _ in range(RDP_TRIES):
        if len(simple) <= max_rows:
            break
        epsilon *= RDP_GROWTH
        simple = simplify(rows, epsilon).astype(np.float64)
    simple[-1, 2] = last_pen  # simplify lifts the pen at the end; an unfinished last stroke stays unfinished
    if len(simple) > max_rows:
        strokes = int(simple[:, 2].sum() + (last_pen == 0))
        raise DataError(f"the drawing still has {len(simple)} points after simplification ({strokes} strokes), more "
                        f"than the {max_rows} this model can read here: draw fewer strokes")
    simple[:, :2] *= units_per_pixel
    return simple.astype(np.float32), Placement(origin, units_per_pixel)


def _clean(stroke3: np.ndarray) -> list[tuple[float, float, int]]:
    """A result as JSON-safe rows: finite, bounded, rounded to 1/1000."""
    a = np.nan_to_num(np.asarray(stroke3, dtype=np.float64), nan=0.0, posinf=MAX_OUTPUT_COORD,
                      neginf=-MAX_OUTPUT_COORD)
    xy = np.round(np.clip(a[:, :2], -MAX_OUTPUT_COORD, MAX_OUTPUT_COORD), 3)
    pen = (a[:, 2] > 0.5).astype(int)
    return [(float(x), float(y), int(p)) for (x, y), p in zip(xy.tolist(), pen.tolist())]


def _placements_between(a: Placement, b: Placement, steps: int) -> list[Placement]:
    """Start points moving from a's to b's (the scale is the same: one per model and canvas)."""
    return [Placement(tuple(float((1 - t) * pa + t * pb) for pa, pb in zip(a.origin, b.origin)), a.scale)
            for t in np.linspace(0.0, 1.0, steps)]


# --------------------------------------------------------------------------------------------------- the app

T = TypeVar("T")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is answered 413 before anything parses it.

    The body (small by then) is read here and handed on whole, so the limit holds without a Content-Length too.
    """

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await self._refuse(scope, receive, send)
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                return await self._refuse(scope, receive, send)
            if not message.get("more_body", False):
                break
        body, delivered = b"".join(chunks), False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send):
        response = JSONResponse({"detail": f"request body too large: at most {self.limit} bytes"}, status_code=413)
        await response(scope, receive, send)


def _error_list(errors) -> list[dict[str, Any]]:
    """Pydantic's errors without their `input` (it can be huge, or hold NaN, which JSON cannot carry)."""
    shown = []
    for e in list(errors)[:MAX_ERRORS_SHOWN]:
        shown.append({"loc": [str(part) for part in e.get("loc", ())], "msg": str(e.get("msg", "")),
                      "type": str(e.get("type", ""))})
    return shown


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(models: Mapping[str, SketchRNN] | ModelRegistry) -> FastAPI:
    """The studio for these models, by name: the page at `/`, its files at `/static`, the JSON API at `/api`."""
    registry = models if isinstance(models, ModelRegistry) else ModelRegistry(models)
    for entry in registry.entries():
        entry.model.eval()
    app = FastAPI(
        title="sketchlab studio",
        summary="Draw with a Sketch-RNN: complete, reconstruct, interpolate and sample stroke drawings.",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        version="1",
    )
    app.state.registry = registry
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _error_list(exc.errors())}, status_code=422)

    @app.exception_handler(SketchlabError)
    async def refused(request: Request, exc: SketchlabError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(UnknownModel)
    async def unknown_model(request: Request, exc: UnknownModel) -> JSONResponse:
        return JSONResponse({"detail": str(exc.args[0])}, status_code=404)

    async def infer(entry: ModelEntry, work: Callable[[ModelEntry], T]) -> T:
        """Run `work(entry)` in a worker thread, one request at a time per model."""

        def locked() -> T:
            with entry.lock:
                return work(entry)

        return await run_in_threadpool(locked)

    def conditional(entry: ModelEntry, verb: str) -> None:
        if not entry.model.config.conditional:
            raise HTTPException(400, f"model {entry.name!r} is unconditional (a decoder without an encoder): "
                                     f"it cannot {verb}; use a conditional model")

    errors = {404: {"description": "unknown model"}, 422: {"description": "invalid request or drawing"},
              413: {"description": "request body too large"}}

    @app.get("/api/models", response_model=ModelsResponse, tags=["api"])
    async def list_models() -> ModelsResponse:
        """The loaded models and the request limits."""
        limits = {"max_points": MAX_POINTS, "max_strokes": MAX_STROKES, "max_n": MAX_N, "min_steps": MIN_STEPS,
                  "max_steps": MAX_STEPS, "max_temperature": MAX_TEMPERATURE, "max_coord": MAX_COORD,
                  "canvas_size": DEFAULT_CANVAS}
        return ModelsResponse(models=[e.info() for e in registry.entries()], default=registry.default,
                              limits=limits)

    @app.post("/api/sample", response_model=DrawingsResponse, tags=["api"], responses=errors)
    async def sample(body: SampleRequest) -> DrawingsResponse:
        """`n` new drawings from the prior (conditional model) or from scratch, in the model's data units."""
        entry = registry.get(body.model)
        drawings = await infer(entry, lambda e: sampling.sample(e.model, body.n, body.temperature, seed=body.seed))
        return DrawingsResponse(model=entry.name, drawings=[_clean(d) for d in drawings], units="data")

    @app.post("/api/complete", response_model=DrawingsResponse, tags=["api"], responses=errors)
    async def complete(body: CompleteRequest) -> DrawingsResponse:
        """Continue the drawing `n` ways. Each result holds the drawing as the model read it (`prefix_rows` rows,
        simplified) followed by the model's strokes, in canvas pixels."""
        entry = registry.get(body.model)

        def work(e: ModelEntry):
            limit = e.model.config.max_seq_len
            room = max(1, limit // 4)  # the model needs rows left to draw in
            prefix, placement = to_model_units(body.drawing, e.units_per_pixel(body.canvas_size), limit - room,
                                               body.canvas_size)
            drawings = sampling.complete(e.model, prefix, body.n, body.temperature, body.seed)
            return [_clean(placement.to_canvas(d)) for d in drawings], placement, len(prefix)

        drawings, placement, rows = await infer(entry, work)
        return DrawingsResponse(model=entry.name, drawings=drawings, units="canvas", scale=placement.scale,
                                prefix_rows=rows, simplified_points=rows)

    @app.post("/api/reconstruct", response_model=DrawingsResponse, tags=["api"],
              responses={**errors, 400: {"description": "the model is unconditional"}})
    async def reconstruct(body: ReconstructRequest) -> DrawingsResponse:
        """Encode the drawing and decode it `n` times at the temperature, in canvas pixels over the original."""
        entry = registry.get(body.model)
        conditional(entry, "reconstruct drawings")

        def work(e: ModelEntry):
            drawing, placement = to_model_units(body.drawing, e.units_per_pixel(body.canvas_size),
                                                e.model.config.max_seq_len, body.canvas_size)
            rows = sampling.reconstruct(e.model, [drawing], [body.temperature] * body.n, seed=body.seed)
            return [_clean(placement.to_canvas(d)) for d in rows[0]], placement, len(drawing)

        drawings, placement, points = await infer(entry, work)
        return DrawingsResponse(model=entry.name, drawings=drawings, units="canvas", scale=placement.scale,
                                simplified_points=points)

    @app.post("/api/interpolate", response_model=DrawingsResponse, tags=["api"],
              responses={**errors, 400: {"description": "the model is unconditional"}})
    async def interpolate(body: InterpolateRequest) -> DrawingsResponse:
        """`steps` drawings decoded along the latent path from `a` to `b` (inclusive), in canvas pixels; each starts
        at a point moving from a's start to b's."""
        entry = registry.get(body.model)
        conditional(entry, "interpolate between drawings")

        def work(e: ModelEntry):
            scale, limit = e.units_per_pixel(body.canvas_size), e.model.config.max_seq_len
            a, place_a = to_model_units(body.a, scale, limit, body.canvas_size)
            b, place_b = to_model_units(body.b, scale, limit, body.canvas_size)
            drawings = sampling.interpolate(e.model, a, b, body.steps, body.method, body.temperature, body.seed)
            placements = _placements_between(place_a, place_b, body.steps)
            return [_clean(p.to_canvas(d)) for p, d in zip(placements, drawings)], scale

        drawings, scale = await infer(entry, work)
        return DrawingsResponse(model=entry.name, units="canvas", scale=scale, drawings=drawings)

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
            import io

            image = (render.render_image(drawings[0], size=body.size, **style) if len(drawings) == 1
                     else render.grid_image(drawings, cell=min(body.size, 256), **style))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=True)
            return buffer.getvalue()

        content = await run_in_threadpool(draw)
        media = "image/svg+xml" if body.format == "svg" else "image/png"
        return Response(content, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="sketch.{body.format}"'})

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


# --------------------------------------------------------------------------------------------------- serving


def parse_model_spec(spec: str) -> tuple[str, str]:
    """`NAME=PATH` or `PATH` (named after its folder; a run's `best/` or `last/` after the run folder)."""
    if "=" in spec and not Path(spec).exists():
        name, path = spec.split("=", 1)
        name, path = name.strip(), path.strip()
        if not name or not path:
            raise DataError(f"bad --model {spec!r}: use PATH or NAME=PATH")
        return name, path
    folder = Path(spec).expanduser().resolve()
    name = folder.parent.name if folder.name in ("best", "last") else folder.name
    return name or "model", spec


def load_models(model_paths: list[str], device: str = "cpu") -> dict[str, SketchRNN]:
    """Load `PATH` or `NAME=PATH` model folders (or zoo names), by name; two models of one name are refused.
    No paths: the zoo's Sketch-RNN models."""
    from sketchlab.pipelines import load_model
    from sketchlab.zoo import zoo_models

    model_paths = model_paths or [model.name for model in zoo_models() if model.card.get("kind") == "sketch-rnn"]
    if not model_paths:
        raise DataError("give at least one model folder (--model PATH)")
    models: dict[str, SketchRNN] = {}
    for spec in model_paths:
        name, path = parse_model_spec(spec)
        if name in models:
            raise DataError(f"two models are called {name!r}: name them with NAME=PATH")
        models[name] = load_model(path, device=device)
    return models


def serve(model_paths: list[str], host: str = "127.0.0.1", port: int = 8765, device: str = "cpu",
          log_level: str = "info") -> None:
    """Load the models and serve the studio until interrupted (uvicorn). Binds the loopback address by default."""
    import uvicorn

    if not 0 <= port <= 65535:
        raise DataError(f"port must be in 0..65535, got {port}")
    app = create_app(load_models(model_paths, device))
    if not _loopback(host):
        log.warning("serving on %s: anyone who can reach this address can use the studio (no authentication)",
                    host)
    shown = f"[{host}]" if ":" in host else host
    log.info("sketchlab studio: http://%s:%d/  (API documentation: /docs)", shown, port)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
