"""The pretrained models shipped with sketchlab: `models list`."""

from __future__ import annotations

import argparse

from sketchlab.cli.options import Command


def models_options(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="models_command", required=True, metavar="MODELS_COMMAND")
    listing = commands.add_parser("list", help="name, data, cell, size, test figures, data license")
    listing.add_argument("--magenta", action="store_true",
                         help="list Google Magenta's published Sketch-RNN models (magenta:NAME) and what is cached")
    listing.set_defaults(run=cmd_models_list)
    importing = commands.add_parser("import", help="a Magenta .gen.json / .vae.json file as a sketchlab model folder")
    importing.add_argument("file", help="NAME.gen.json or NAME.vae.json (sketch-rnn-js / magenta.js format)")
    importing.add_argument("--out", required=True, help="the model folder to write")
    importing.set_defaults(run=cmd_models_import)
    exporting = commands.add_parser("export", help="a Sketch-RNN as a magenta.js / sketch-rnn-js JSON model")
    exporting.add_argument("model", help="a model folder, zoo name or magenta:NAME (plain LSTM decoder)")
    exporting.add_argument("--format", choices=["magenta-js"], default="magenta-js")
    exporting.add_argument("--out", required=True,
                           help="NAME.gen.json for an unconditional model, NAME.vae.json for a conditional one")
    exporting.set_defaults(run=cmd_models_export)


COMMANDS = {"models": Command("the pretrained models: shipped, Magenta's published ones, import and export",
                              models_options)}


def cmd_models_list(args: argparse.Namespace) -> None:
    from sketchlab.zoo import zoo_models

    if args.magenta:
        print_magenta_catalog()
        return
    rows = [("name", "kind", "data", "cell", "size", "test figures", "recognizability", "data license")]
    for model in zoo_models():
        card = model.card
        test = ", ".join(f"{key} {value:.3f}" for key, value in card.get("test", {}).items()
                         if key in ("l_r", "l_kl", "top1", "top3"))
        judged = card.get("recognizability")
        rows.append((model.name, card.get("kind", "?"), card.get("data", "?"),
                     card.get("config", {}).get("cell", "cnn"), f"{card.get('size_bytes', 0) / 1e6:.1f} MB", test,
                     f"{judged['classified_as_category']:.2f} (chance {judged['chance']:.2f})" if judged else "-",
                     card.get("data_license", "?")))
    print_table(rows)


def print_table(rows: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


def print_magenta_catalog() -> None:
    from sketchlab.magenta.catalog import catalog, models_dir

    rows = [("name", "model", "published", "cached")]
    rows += [(entry.name, f"magenta:{entry.name}", ",".join(entry.kinds), ",".join(entry.cached) or "-")
             for entry in catalog()]
    print_table(rows)
    print(f"Google's models, downloaded on first use into {models_dir()} (docs/magenta.md)")


def cmd_models_import(args: argparse.Namespace) -> None:
    from sketchlab.magenta.catalog import import_file

    print(f"wrote {import_file(args.file, args.out)}")


def cmd_models_export(args: argparse.Namespace) -> None:
    from sketchlab.magenta.format import write_file
    from sketchlab.pipelines.strokes import load_model

    print(f"wrote {write_file(load_model(args.model), args.out)}")
