"""`sketchlab` on the command line: parse, call the Python API, print. No tensors here.

One module per command group (drawing, studio, evaluation, models, data, pixel, translation, text), each with a
`COMMANDS` table: name -> `options.Command(summary, add_options)`. The top-level parser lists every command from
those summaries alone; only the chosen command's `add_options` runs, importing the config classes (and torch) its
options need, so `sketchlab --help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys

from sketchlab.cli import data, drawing, evaluation, models, pixel, studio, text, translation
from sketchlab.errors import SketchlabError

GROUPS = (drawing, studio, evaluation, models, data, pixel, translation, text)


def chosen_command(argv: list[str]) -> str | None:
    """The subcommand named in `argv`: its first word that is not an option (the top-level options take no
    values)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """Every command with its one-line help; the full options of the command `argv` chooses."""
    parser = argparse.ArgumentParser(prog="sketchlab", description="Teach machines to draw.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = chosen_command(argv)
    for group in GROUPS:
        for name, command in group.COMMANDS.items():
            sub = subparsers.add_parser(name, help=command.summary,
                                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
            if name == chosen:
                command.add_options(sub)
    return parser


def command_line(argv: list[str]) -> str:
    """A command line as a shell would take it, for reports that say how they were made."""
    return " ".join(["sketchlab", *(shlex.quote(arg) for arg in argv)])


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    args.command_line = command_line(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        args.run(args)
    except SketchlabError as err:
        if args.verbose:
            raise
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
