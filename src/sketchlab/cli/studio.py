"""The drawing studio: `serve`."""

from __future__ import annotations

import argparse

from sketchlab.cli.options import Command


def serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", action="append", default=[], metavar="[NAME=]PATH",
                        help="a model folder or zoo name (repeat for several); named after its folder unless NAME= "
                             "is given; none: the zoo's Sketch-RNN models")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: this machine only, and only requests that name it: "
                             "localhost, 127.0.0.1, [::1]); any other address opens the studio to the network")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.set_defaults(run=cmd_serve)


COMMANDS = {"serve": Command("the drawing studio: a local web page to draw together with a model", serve_options)}


def cmd_serve(args: argparse.Namespace) -> None:
    from sketchlab.web import serve

    serve(args.model, host=args.host, port=args.port, device=args.device)
