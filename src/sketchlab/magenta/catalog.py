"""The published Sketch-RNN models: their names, their download, their conversion into sketchlab model folders.

Google's Magenta team published about 120 models (one per Quick, Draw! category, each trained on 70,000 drawings,
and mixtures such as catpig) at `https://storage.googleapis.com/quickdraw-models/sketchRNN/large_models/NAME.TYPE.json`,
TYPE `gen` (decoder only) or `vae` (with an encoder). They are Google's, not sketchlab's: they are downloaded on first
use into the cache (`$SKETCHLAB_CACHE/magenta/`), converted once into an ordinary model folder (model.safetensors,
config.json, card.json naming the source) and reused offline. `$SKETCHLAB_MAGENTA_MODELS_URL` names a mirror.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sketchlab.data.sources import cache_dir, download_file
from sketchlab.errors import CheckpointError
from sketchlab.magenta.format import PIXEL_FACTOR, MagentaFile, read_file, to_model
from sketchlab.models.sketch_rnn import SketchRNN
from sketchlab.zoo import CARD_FILE
from sketchlab.zoo import MAGENTA_PREFIX as PREFIX

DEFAULT_MODELS_URL = "https://storage.googleapis.com/quickdraw-models/sketchRNN/large_models"
KINDS = ("gen", "vae")

# The published names, as the sketch-rnn-js demos list them. Every one has a gen model; every one but `everything`
# (a model of all categories at once) also has a vae model.
NAMES = (
    "alarm_clock ambulance angel ant antyoga backpack barn basket bear bee beeflower bicycle bird book brain bridge "
    "bulldozer bus butterfly cactus calendar castle cat catbus catpig chair couch crab crabchair crabrabbitfacepig "
    "cruise_ship diving_board dog dogbunny dolphin duck elephant elephantpig everything eye face fan fire_hydrant "
    "firetruck flamingo flower floweryoga frog frogsofa garden hand hedgeberry hedgehog helicopter kangaroo key "
    "lantern lighthouse lion lionsheep lobster map mermaid monapassport monkey mosquito octopus owl paintbrush "
    "palm_tree parrot passport peas penguin pig pigsheep pineapple pool postcard power_outlet rabbit rabbitturtle "
    "radio radioface rain rhinoceros rifle roller_coaster sandwich scorpion sea_turtle sheep skull snail snowflake "
    "speedboat spider squirrel steak stove strawberry swan swing_set the_mona_lisa tiger toothbrush toothpaste "
    "tractor trombone truck whale windmill yoga yogabicycle"
).split()
GEN_ONLY = {"everything"}


@dataclass(frozen=True)
class CatalogEntry:
    """A published model name, the kinds published under it, and the kinds already converted in the cache."""

    name: str
    kinds: tuple[str, ...]
    cached: tuple[str, ...]


def kinds_of(name: str) -> tuple[str, ...]:
    return ("gen",) if name in GEN_ONLY else KINDS


def models_dir() -> Path:
    """Where downloads and converted folders live: `$SKETCHLAB_CACHE/magenta/`."""
    return cache_dir() / "magenta"


def model_folder(name: str, kind: str) -> Path:
    return models_dir() / f"{name}.{kind}"


def is_converted(folder: Path) -> bool:
    return all((folder / f).is_file() for f in ("model.safetensors", "config.json", CARD_FILE))


def catalog() -> list[CatalogEntry]:
    """Every published model with what of it is cached."""
    return [CatalogEntry(name, kinds_of(name), tuple(k for k in kinds_of(name) if is_converted(model_folder(name, k))))
            for name in NAMES]


def models_url(name: str, kind: str) -> str:
    base = os.environ.get("SKETCHLAB_MAGENTA_MODELS_URL") or DEFAULT_MODELS_URL
    return f"{base.rstrip('/')}/{name}.{kind}.json"


def parse_spec(spec: str) -> tuple[str, str]:
    """`magenta:NAME[.gen|.vae]` (or `NAME[.gen|.vae]`) as (name, kind); kind defaults to gen."""
    text = spec[len(PREFIX):] if spec.startswith(PREFIX) else spec
    name, _, kind = text.partition(".")
    kind = kind or "gen"
    if name not in NAMES:
        close = [n for n in NAMES if name and (name in n or n in name)][:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise CheckpointError(f"no published Magenta model {name!r}{hint}; "
                              "`sketchlab models list --magenta` lists them")
    if kind not in kinds_of(name):
        raise CheckpointError(f"magenta:{name} is published as {' and '.join(kinds_of(name))}, not {kind!r}")
    return name, kind


def fetch_model(name: str, kind: str = "gen", progress: bool = True) -> Path:
    """The converted model folder of a published model: from the cache, else downloaded (with a progress bar,
    verified by parsing it) and converted once."""
    name, kind = parse_spec(f"{name}.{kind}")
    folder = model_folder(name, kind)
    if is_converted(folder):
        return folder
    url = models_url(name, kind)
    download = models_dir() / "downloads" / f"{name}.{kind}.json"
    if not download.is_file():
        download_file(url, download, verify=read_file, progress=progress)
    try:
        return import_file(download, folder, source=url)
    except CheckpointError:
        if is_converted(folder):  # another process (the studio, a second command) converted it meanwhile
            return folder
        raise


def resolve(spec: str) -> Path:
    """The model folder `magenta:NAME[.gen|.vae]` stands for (downloaded and converted on first use)."""
    return fetch_model(*parse_spec(spec))


def import_file(path: str | Path, out_dir: str | Path, source: str | None = None,
                pixel_factor: float = PIXEL_FACTOR) -> Path:
    """Convert a `.gen.json` / `.vae.json` file into a sketchlab model folder with a card; the folder appears whole
    (written beside it, then renamed) or not at all."""
    path, out_dir = Path(path), Path(out_dir)
    magenta = read_file(path)
    model = to_model(magenta, pixel_factor)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the folder from other users of a shared cache
    try:
        model.save_pretrained(staging)
        card = model_card(magenta, model, source or str(path.resolve()), _sha256(path), pixel_factor)
        (staging / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
        if out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        os.replace(staging, out_dir)
    except OSError as error:
        raise CheckpointError(f"cannot write the model folder {out_dir}: {error.strerror or error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


RECORDED = ("r_loss", "kl_loss", "training_size")  # figures some files carry from their training run
CARD_CONFIG = ("cell", "conditional", "enc_hidden", "z_size", "dec_hidden", "num_mixture", "max_seq_len",
               "scale_factor")
ENCODER_ONLY = ("enc_hidden", "z_size")


def model_card(magenta: MagentaFile, model: SketchRNN, source: str, sha256: str, pixel_factor: float,
               ) -> dict[str, Any]:
    """What an imported model is and where it came from."""
    info = magenta.info
    name = str(info.get("name", "?"))
    config = {key: value for key, value in asdict(model.config).items()
              if key in CARD_CONFIG and (model.config.conditional or key not in ENCODER_ONLY)}
    return {
        "name": f"{PREFIX}{name}.{magenta.kind}",
        "kind": "sketch-rnn",
        "description": f"Sketch-RNN {'decoder-only (gen)' if magenta.kind == 'gen' else 'VAE'} model "
                       f"{name!r} published by Google's Magenta team for sketch-rnn-js and magenta.js, trained on "
                       "Quick, Draw! drawings; imported from its JSON file",
        "source": source,
        "sha256": sha256,
        "format": f"magenta-js {magenta.kind}.json",
        "format_version": magenta.version,
        "mode": info.get("mode"),
        "scale_factor": magenta.scale_factor,
        "pixel_factor": pixel_factor,
        "scale_rule": f"sketchlab's drawing units are the Quick, Draw! 0-255 box: the model reads them magnified by "
                      f"{pixel_factor:g} (config scale_factor = file scale_factor / {pixel_factor:g}), as magenta.js "
                      "with setPixelFactor; docs/magenta.md has the measurement",
        "recorded": {key: info[key] for key in RECORDED if key in info},
        "data": f"Quick, Draw! {name} (Google, CC BY 4.0)",
        "data_license": "CC BY 4.0 (Quick, Draw! data); the weights are Google's, downloaded, never shipped",
        "parameters": sum(p.numel() for p in model.parameters()),
        "config": config,
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
