"""The command line end to end on a tiny model trained briefly on the real sheep, plus its error handling."""

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from PIL import Image

from sketchlab.cli import main
from sketchlab.pipelines.strokes import load_model

TINY = ["--enc-hidden", "16", "--dec-hidden", "32", "--z-size", "8", "--num-mixture", "3", "--batch-size", "16"]
SVG = "{http://www.w3.org/2000/svg}"


def run_cli(*args: str) -> None:
    main([str(a) for a in args])


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sheep_path):
    out = tmp_path_factory.mktemp("run")
    run_cli("train", "--data", sheep_path, "--out-dir", out, "--steps", 6, "--eval-every", 3, "--save-every", 3,
            "--image-every", 3, "--log-every", 1, "--no-progress", *TINY)
    return out


def test_train_writes_models_checkpoint_logs(trained):
    for name in ("best/model.safetensors", "best/config.json", "last/model.safetensors", "last/trainer_state.pt"):
        assert (trained / name).is_file(), name
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(trained / "tb")).Reload()
    assert {"train/loss", "train/l_kl", "train/kl_weight", "valid/l_r"} <= set(events.Tags()["scalars"])
    assert any("samples" in tag for tag in events.Tags()["images"])
    assert events.Tags()["graph"]
    lines = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines if "train/loss" in line][:3] == [1, 2, 3]
    config = json.loads((trained / "best" / "config.json").read_text())
    assert config["dec_hidden"] == 32 and config["scale_factor"] > 1  # sheep offsets are in pixels


def test_sample_writes_svg_png_gif(trained, tmp_path):
    run_cli("sample", "--model", trained, "--n", 4, "--seed", 0, "--out", tmp_path / "s.svg")
    ET.parse(tmp_path / "s.svg")
    run_cli("sample", "--model", trained, "--n", 1, "--seed", 0, "--out", tmp_path / "s.png")
    assert Image.open(tmp_path / "s.png").size[0] > 0
    model = load_model(trained)
    seed = next(s for s in range(100) if len(model.sample(1, temperature=0.5, seed=s)[0]) >= 5)
    run_cli("sample", "--model", trained, "--n", 1, "--seed", seed, "--out", tmp_path / "s.gif")
    assert Image.open(tmp_path / "s.gif").n_frames > 1  # the same drawing, seen being drawn


@pytest.mark.parametrize("command, extra", [
    ("reconstruct", ["--index", "0,1", "--temperatures", "0.1,0.9"]),
    ("interpolate", ["--from", "0", "--to", "1", "--steps", "3"]),
    ("complete", ["--index", "2", "--keep", "0.5", "--candidates", "2"]),
])
def test_drawing_commands_write_svg(trained, tmp_path, sheep_path, command, extra):
    out = tmp_path / f"{command}.svg"
    run_cli(command, "--model", trained, "--data", sheep_path, "--seed", 0, "--out", out, *extra)
    assert ET.parse(out).getroot().tag == f"{SVG}svg"


def test_resume_continues_from_the_last_checkpoint(trained, sheep_path):
    run_cli("train", "--data", sheep_path, "--out-dir", trained, "--steps", 8, "--resume", "--log-every", 1,
            "--eval-every", 0, "--no-progress", *TINY)
    steps = [json.loads(line)["step"] for line in (trained / "metrics.jsonl").read_text().splitlines()]
    train_steps = [s for s in steps if s > 6]
    assert train_steps and min(train_steps) == 7


def cli_error(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "sketchlab", *map(str, args)], capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_bad_input_gives_one_line_errors(tmp_path, trained):
    assert "no such data file" in cli_error("train", "--data", tmp_path / "nope.npz", "--out-dir", tmp_path, "--steps", 1)
    np.savez(tmp_path / "partial.npz", train=np.zeros((2, 5, 3)), valid=np.zeros((1, 5, 3)))
    assert "test" in cli_error("train", "--data", tmp_path / "partial.npz", "--out-dir", tmp_path, "--steps", 1)
    assert "no model" in cli_error("sample", "--model", tmp_path / "nothing")
    assert "out of range" in cli_error("reconstruct", "--model", trained, "--data", "aaron_sheep", "--index", 100000)


@pytest.mark.parametrize("command", ["train", "sample", "reconstruct", "interpolate", "complete", "serve", "classifier",
                                     "evaluate"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "--" in capsys.readouterr().out


def test_data_commands_list_build_and_explain(tmp_path, data_dir, capsys):
    run_cli("data", "list", "ball")
    assert "hot air balloon" in capsys.readouterr().out.splitlines()
    out = tmp_path / "built.npz"
    run_cli("data", "build", data_dir / "quickdraw" / "raw" / "hot air balloon.ndjson", "--out", out, "--seed", 1)
    run_cli("train", "--data", out, "--out-dir", tmp_path / "run", "--steps", 2, "--eval-every", 0,
            "--no-progress", "--no-tensorboard", *TINY)
    assert (tmp_path / "run" / "best" / "model.safetensors").is_file()
    assert "did you mean 'hot air balloon'" in cli_error("data", "get", "hot air baloon")


def test_data_build_of_a_folder_pools_its_files_in_code_point_order(tmp_path, data_dir):
    """A folder gives the same set in every locale: its files in name order, as Python sorts them."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    names = ["hot dog.ndjson", "hot air balloon.ndjson", "Hotdog.ndjson"]
    for name, source in zip(names, ["hot dog", "hot air balloon", "house"]):
        shutil.copyfile(data_dir / "quickdraw" / "simplified" / f"{source}.ndjson", folder / name)
    run_cli("data", "build", folder, "--out", tmp_path / "folder.npz")
    run_cli("data", "build", *[folder / name for name in sorted(names)], "--out", tmp_path / "files.npz")
    run_cli("data", "build", *[folder / name for name in names], "--out", tmp_path / "given.npz")
    assert (tmp_path / "folder.npz").read_bytes() == (tmp_path / "files.npz").read_bytes()
    assert (tmp_path / "folder.npz").read_bytes() != (tmp_path / "given.npz").read_bytes()


def train_losses(out, sheep_path, steps: int, resume: bool = False) -> dict[int, float]:
    run_cli("train", "--data", sheep_path, "--out-dir", out, "--steps", steps, "--log-every", 1, "--eval-every", 0,
            "--save-every", 2, "--no-progress", "--no-tensorboard", "--recurrent-dropout", 0.1, "--cell", "layernorm",
            *(["--resume"] if resume else []), *TINY)
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {line["step"]: line["train/loss"] for line in lines if "train/loss" in line}


def test_resumed_sketch_rnn_training_repeats_the_uninterrupted_losses_exactly(tmp_path, sheep_path):
    """Augmentation, shuffling, dropout and the optimiser all resume where they were: the same losses to the bit."""
    straight = train_losses(tmp_path / "straight", sheep_path, 5)
    train_losses(tmp_path / "pieces", sheep_path, 2)
    resumed = train_losses(tmp_path / "pieces", sheep_path, 5, resume=True)
    assert list(resumed) == [1, 2, 3, 4, 5]
    assert resumed == straight


def test_torchrun_on_two_processes_trains_like_one_process_on_the_global_batch(tmp_path, sheep_path):
    """`torchrun --nproc-per-node 2 -m sketchlab train` (gloo on CPU): each process takes half of every batch, and the
    weights after a few steps equal those of one process on the whole batches."""
    from safetensors.torch import load_file

    # Unconditional: the VAE noise of a conditional model is drawn per process, so it could not match exactly.
    args = ["train", "--data", str(sheep_path), "--steps", "4", "--eval-every", "0", "--save-every", "4", "--seed", "2",
            "--no-conditional", "--no-progress", "--no-tensorboard", *TINY]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                    "-m", "sketchlab", *args, "--out-dir", str(tmp_path / "ddp")], check=True, env=env,
                   capture_output=True, timeout=240)
    run_cli(*args, "--out-dir", tmp_path / "single")
    single, ddp = (load_file(str(tmp_path / run / "last" / "model.safetensors")) for run in ("single", "ddp"))
    for name, tensor in single.items():
        torch.testing.assert_close(ddp[name], tensor, rtol=0, atol=2e-5, msg=name)
    state = torch.load(tmp_path / "ddp" / "last" / "trainer_state.pt", weights_only=True)
    assert len(state["data_state"]) == 2  # one data state per process, for an exact resume


@pytest.mark.skipif(not any(shutil.which(c) for c in ("g++", "c++", "clang++")),
                    reason="torch.compile on a CPU needs a C++ compiler")
def test_compiled_training_gives_the_eager_losses(tmp_path, sheep_path):
    """`--compile`: a conditional model (the encoder's packed LSTM left to eager mode, the VAE noise drawn from torch's
    generator) trains with the losses of an eager run."""
    def losses(out, *extra):
        run_cli("train", "--data", sheep_path, "--out-dir", out, "--steps", 3, "--log-every", 1, "--eval-every", 0,
                "--save-every", 3, "--max-seq-len", 60, "--seed", 2, "--no-progress", "--no-tensorboard", *TINY, *extra)
        lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        return [line["train/loss"] for line in lines if "train/loss" in line]

    eager, compiled = losses(tmp_path / "eager"), losses(tmp_path / "compiled", "--compile")
    assert len(eager) == 3
    assert compiled == pytest.approx(eager, rel=1e-5)


def test_config_options_are_explained_by_the_configs_comments(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "latent size N_z (default: 128)" in text
    assert "The paper trained with keep probability 0.9" in text  # a comment on the lines above its field
    assert "--seed SEED (default: 0)" in text  # no comment: the default alone
