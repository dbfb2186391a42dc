"""The studio API's request and response bodies, and the limits every request is checked against.

Pydantic validates each request before a route sees it: sizes (points, strokes, n, steps), ranges (temperature
0..2), finite numbers only (JSON's NaN and Infinity literals are refused) and pen values 0 or 1.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_POINTS = 1000  # rows of one drawing as sent (before simplification)
MAX_STROKES = 100  # pen lifts in one drawing
MAX_COORD = 1e5  # |dx|, |dy| in canvas pixels
MAX_N = 16  # candidates per request
MIN_STEPS, MAX_STEPS = 2, 16  # interpolation steps
MAX_TEMPERATURE = 2.0
MAX_RENDER_DRAWINGS = 64
MAX_BODY_BYTES = 512 * 1024

DEFAULT_CANVAS = 512  # side of the page's canvas, in pixels

REQUEST_LIMITS = {"max_points": MAX_POINTS, "max_strokes": MAX_STROKES, "max_n": MAX_N, "min_steps": MIN_STEPS,
                  "max_steps": MAX_STEPS, "max_temperature": MAX_TEMPERATURE, "max_coord": MAX_COORD,
                  "canvas_size": DEFAULT_CANVAS}  # what GET /api/models tells the page

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
    stay_on_paper: bool = Field(True, description="keep the pen on the canvas (0..canvas_size on both axes): a point "
                                                  "that would leave it is drawn again (8 times at most), else the "
                                                  "candidate ends there")


class ContinueRequest(CompleteRequest):
    """A live continuation: the same as complete, answered as a stream of points (see `sketchlab.web.live`)."""

    n: Count = 1


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


ModelGroup = Literal["shipped", "cache", "yours"]


class ModelInfo(BaseModel):
    name: str
    description: str = Field("", description="what the model draws and can do, in plain words")
    group: ModelGroup = Field("yours", description="shipped with sketchlab, downloaded into the cache, or a folder "
                                                   "given to `sketchlab serve`")
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
    dropped_strokes: int = Field(0, description="strokes at the start of a drawing too long for the model, left out "
                                                "in whole or in part (the model read the most recent part)")
