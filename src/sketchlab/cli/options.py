"""What the command groups share: the `Command` table entry, option helpers (one option per config dataclass field,
--model, --data, --out) and printing what a command wrote."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
from collections.abc import Callable
from pathlib import Path

PIXEL_DATA_HELP = ("an image folder (PNG/JPEG/WebP, searched recursively), openmoji, or stroke data rasterized: "
                   ".npz/.ndjson paths or set names (aaron_sheep, cat, ...), comma-separated")


@dataclasses.dataclass(frozen=True)
class Command:
    """A subcommand as its group declares it: the one-line help the top-level parser shows (no import needed),
    and `add_options(parser)`, which fills in the command's own parser (options, `run`) when it is the one chosen,
    importing what its defaults need then."""

    summary: str
    add_options: Callable[[argparse.ArgumentParser], None]


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def field_comments(cls) -> dict[str, str]:
    """The comment beside each field of a config dataclass, or on the lines right above it: the options' help, so
    the code's comments are the one place that explains a setting."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):  # no source (a frozen build): options keep their defaults as help
        return {}
    comments: dict[str, str] = {}
    above: list[str] = []
    for line in lines:
        text = line.strip()
        if text.startswith("#"):
            above.append(text.lstrip("#").strip())
            continue
        field = re.match(r"(\w+)\s*:[^=]*=.*?(?:\s#\s*(.*))?$", text)
        if field:
            comments[field.group(1)] = " ".join([*above, field.group(2) or ""]).strip()
        above = []
    return comments


def add_dataclass_options(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """One option per field of a config dataclass, defaulting to the dataclass's own (the paper's) value."""
    group = parser.add_argument_group(f"{cls.__name__} (defaults: the paper's)")
    comments = field_comments(cls)
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        explain = comments.get(field.name) or "(default: %(default)s)"
        has_factory = field.default_factory is not dataclasses.MISSING
        default = field.default_factory() if has_factory else field.default
        required = default is dataclasses.MISSING
        if field.type in (bool, "bool"):
            group.add_argument(flag(field.name), action=argparse.BooleanOptionalAction, default=field.default,
                               help=explain)
        elif str(field.type) == "list[int]":
            group.add_argument(flag(field.name), type=ints, metavar="N,N,...", default=default, help=explain)
        else:
            kind = {"int": int, "float": float}.get(str(getattr(field.type, "__name__", field.type)), str)
            group.add_argument(flag(field.name), type=kind, required=required, metavar=field.name.upper(),
                               default=None if required else field.default, help=explain)


def dataclass_from_args(cls, args: argparse.Namespace, **overrides):
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in vars(args).items() if k in names}
    return cls(**{**values, **overrides})


def add_output(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--out", default=default, help="output file: .svg, .png or .gif (single drawings)")
    parser.add_argument("--color-by-order", action="store_true", help="colour strokes by drawing order")


def add_png_output(parser: argparse.ArgumentParser, default: str) -> None:
    """The picture commands' output: a .png, each pixel enlarged `--scale` times."""
    parser.add_argument("--scale", type=int, default=1, help="enlarge each pixel this many times")
    parser.add_argument("--out", default=default, help="the .png to write")


def add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True,
                        help="a trained model folder (a run folder, its best/ or last/) or a zoo name "
                             "(sketchlab models list)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--seed", type=int, default=None, help="random seed for reproducible drawings")


def add_drawing_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="stroke-3 .npz path(s) or data set names, comma-separated")
    parser.add_argument("--split", default="test", choices=["train", "valid", "test"])


def print_trained(out_dir: str) -> None:
    """Name the model folders the run holds now: only what was written."""
    best, last = Path(out_dir) / "best", Path(out_dir) / "last"
    checkpoint = f"last checkpoint: {last}" if last.is_dir() else "no checkpoint"
    if best.is_dir():
        print(f"trained model: {best} ({checkpoint})")
    else:
        print(f"no best model was kept (no validation loss was finite); {checkpoint}")


def save_picture(picture, args: argparse.Namespace) -> None:
    """An image grid to `args.out`, each pixel enlarged `args.scale` times."""
    from sketchlab.render import save_picture as save

    print(f"wrote {save(picture, args.out, scale=args.scale)}")
