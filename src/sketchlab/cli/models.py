"""The pretrained models shipped with sketchlab: `models list`."""

from __future__ import annotations

import argparse

from sketchlab.cli.options import Command


def models_options(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="models_command", required=True, metavar="MODELS_COMMAND")
    commands.add_parser("list", help="name, data, cell, size, test figures, data license").set_defaults(
        run=cmd_models_list)


COMMANDS = {"models": Command("the pretrained models shipped with sketchlab", models_options)}


def cmd_models_list(args: argparse.Namespace) -> None:
    from sketchlab.zoo import zoo_models

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
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
