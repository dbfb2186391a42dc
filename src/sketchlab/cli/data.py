"""Quick, Draw! (and OpenMoji) data: `data list`, `data get`, `data build`."""

from __future__ import annotations

import argparse

from sketchlab.cli.options import Command


def data_options(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    listing = commands.add_parser("list", help="the 345 Quick, Draw! categories, or those matching a text")
    listing.add_argument("query", nargs="?", default="", help="part of a category name")
    listing.set_defaults(run=cmd_data_list)
    get = commands.add_parser("get", help="download categories into the cache (never twice)",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    get.add_argument("categories", nargs="+", metavar="CATEGORY", help="names; quote names with spaces")
    get.add_argument("--format", default="sketchrnn", choices=["sketchrnn", "simplified", "raw", "bitmap"])
    get.add_argument("--size", type=int, default=64, help="openmoji: rendered image side in pixels")
    get.add_argument("--name", default=None, help="openmoji: keep emoji whose Unicode name contains one of these "
                     "comma-separated texts (e.g. 'cat face,dog face')")
    get.add_argument("--block", default=None, help="openmoji: keep one Unicode block (emoticons, pictographs, "
                     "transport, supplemental, extended-a, symbols, dingbats, flags, extras) or a range 1F600-1F64F")
    get.set_defaults(run=cmd_data_get)
    build = commands.add_parser("build", help="a stroke-3 .npz with train/valid/test splits from .ndjson files",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    build.add_argument("ndjson", nargs="+", help=".ndjson files (raw or simplified) or folders of them, pooled "
                       "into one set")
    build.add_argument("--out", required=True, help="the .npz to write")
    build.add_argument("--max-len", type=int, default=250, help="drop drawings with more points")
    build.add_argument("--recognized-only", action="store_true", help="drop drawings the game did not recognise")
    build.add_argument("--valid-fraction", type=float, default=0.05)
    build.add_argument("--test-fraction", type=float, default=0.05)
    build.add_argument("--simplify", type=float, default=None, metavar="EPSILON", help="extra RDP simplification")
    build.add_argument("--limit", type=int, default=None, help="read at most this many drawings per file")
    build.add_argument("--seed", type=int, default=0)
    build.set_defaults(run=cmd_data_build)


COMMANDS = {"data": Command("Quick, Draw! categories: list, download, build stroke-3 files", data_options)}


def cmd_data_list(args: argparse.Namespace) -> None:
    from sketchlab.data.quickdraw import search_categories

    names = search_categories(args.query)
    print("\n".join(names) if names else f"no category matches {args.query!r}")


def cmd_data_get(args: argparse.Namespace) -> None:
    from sketchlab.data.quickdraw import get

    for category in args.categories:
        if category.lower() == "openmoji":
            from sketchlab.data.openmoji import render_openmoji

            print(render_openmoji(size=args.size, name=args.name, block=args.block))
        else:
            print(get(category, args.format))


def cmd_data_build(args: argparse.Namespace) -> None:
    from sketchlab.data.quickdraw import build_npz

    summary = build_npz(args.ndjson, args.out, max_len=args.max_len, recognized_only=args.recognized_only,
                        valid_fraction=args.valid_fraction, test_fraction=args.test_fraction, seed=args.seed,
                        simplify_epsilon=args.simplify, limit=args.limit)
    print(summary)
