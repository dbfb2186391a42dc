"""The models the studio offers, by name, each with what a request needs beside the weights."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Mapping

from sketchlab.errors import DataError
from sketchlab.models.sketch_rnn import SketchRNN
from sketchlab.web.placement import CANVAS_FILL, measure_extent
from sketchlab.web.schemas import ModelGroup, ModelInfo

NAME_PATTERN = r"^[^\x00-\x1f\x7f/\\]{1,100}$"


@dataclasses.dataclass(frozen=True)
class ModelAbout:
    """What the model picker says of a model: where it comes from and what it draws, in plain words."""

    group: ModelGroup = "yours"
    draws: str = ""  # "sheep"; empty: unknown

    def description(self, name: str, conditional: bool) -> str:
        can = "can redraw and morph your drawing" if conditional else "continues your drawing"
        return f"{name} - draws {self.draws}; {can}" if self.draws else f"{name} - {can}"


@dataclasses.dataclass
class ModelEntry:
    """A loaded model with the lock that lets one request at a time use it."""

    name: str
    model: SketchRNN
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    extent: float | None = None  # the typical drawing's larger side, in data units (measured on first use)
    about: ModelAbout = dataclasses.field(default_factory=ModelAbout)

    def typical_extent(self) -> float:
        """The larger side of a typical drawing of this model, in data units (call with the lock held)."""
        if self.extent is None:
            self.extent = measure_extent(self.model)
        return self.extent

    def units_per_pixel(self, canvas_size: float) -> float:
        return self.typical_extent() / (CANVAS_FILL * canvas_size)

    def info(self) -> ModelInfo:
        c = self.model.config
        return ModelInfo(name=self.name, description=self.about.description(self.name, c.conditional),
                         group=self.about.group, conditional=c.conditional, max_seq_len=c.max_seq_len, cell=c.cell,
                         z_size=c.z_size if c.conditional else None, num_mixture=c.num_mixture,
                         enc_hidden=c.enc_hidden if c.conditional else None, dec_hidden=c.dec_hidden,
                         scale_factor=float(c.scale_factor))


class UnknownModel(LookupError):
    """A request named a model the studio does not have (answered 404)."""


class ModelRegistry:
    """The models the studio offers, by name. `get` is the single place a request's model is looked up (a model
    zoo that loads pretrained models on demand plugs in by overriding it and `entries`)."""

    def __init__(self, models: Mapping[str, SketchRNN], about: Mapping[str, ModelAbout] | None = None) -> None:
        if not models:
            raise DataError("the studio needs at least one model")
        self._entries: dict[str, ModelEntry] = {}
        self._lock = threading.Lock()
        for name, model in models.items():
            if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
                raise DataError(f"bad model name {name!r}: use 1 to 100 printable characters without slashes")
            self._entries[name] = ModelEntry(name, model, about=(about or {}).get(name, ModelAbout()))

    def entries(self) -> list[ModelEntry]:
        with self._lock:
            return list(self._entries.values())

    def add(self, name: str, model: SketchRNN, about: ModelAbout | None = None) -> ModelEntry:
        """Offer one more model (a published model fetched while the studio runs); its entry."""
        if not re.match(NAME_PATTERN, name):
            raise DataError(f"bad model name {name!r}: use 1 to 100 printable characters without slashes")
        model.eval()
        with self._lock:
            entry = self._entries.setdefault(name, ModelEntry(name, model, about=about or ModelAbout()))
        return entry

    @property
    def default(self) -> str:
        return next(iter(self._entries))

    def get(self, name: str | None) -> ModelEntry:
        """The model called `name` (the default model for None), or UnknownModel."""
        key = self.default if name is None else name
        try:
            with self._lock:
                return self._entries[key]
        except KeyError:
            raise UnknownModel(f"unknown model {key!r}; available: {', '.join(self._entries)}") from None
