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

    # Unconditional: the VAE noise of a conditional model is drawn per process, so it could not match exactly; and
    # float32: bf16 products over half the batch round otherwise than over the whole.
    args = ["train", "--data", str(sheep_path), "--steps", "4", "--eval-every", "0", "--save-every", "4", "--seed", "2",
            "--no-conditional", "--no-progress", "--no-tensorboard", "--amp", "none", *TINY]
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
    generator) trains with the losses of an eager run (in float32: under bf16 autocast the compiled graph rounds in
    other places)."""
    def losses(out, *extra):
        run_cli("train", "--data", sheep_path, "--out-dir", out, "--steps", 3, "--log-every", 1, "--eval-every", 0,
                "--save-every", 3, "--max-seq-len", 60, "--seed", 2, "--no-progress", "--no-tensorboard", "--amp", "none",
                *TINY, *extra)
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


# --------------------------------------------------------------------------------------- hostile use (#18)


def one_line_error(capsys, *args) -> str:
    """What `sketchlab ARGS` prints when it refuses, run in this process (no interpreter start per case)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_cli(*args)
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines  # no traceback
    return lines[0]


def test_train_refuses_to_overwrite_a_run_unless_told(trained, sheep_path, tmp_path, capsys):
    before = {path: path.read_bytes() for path in trained.rglob("*") if path.is_file()}
    message = one_line_error(capsys, "train", "--data", sheep_path, "--out-dir", trained, "--steps", 2, *TINY)
    assert "already holds a training run" in message and "--resume" in message and "--overwrite" in message
    assert {path: path.read_bytes() for path in trained.rglob("*") if path.is_file()} == before
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    run_cli("train", "--data", sheep_path, "--out-dir", run, "--steps", 2, "--eval-every", 0, "--overwrite",
            "--no-progress", "--no-tensorboard", *TINY)
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [2]
    assert not (run / "tb").exists()  # the old run's logs went with it
    assert json.loads((run / "best" / "best.json").read_text())["step"] == 2


@pytest.mark.parametrize("args, message", [
    (["sample", "--n", 0], "asked for 0 drawings: give a whole number from 1 to 10,000"),
    (["sample", "--n", -1], "asked for -1 drawings"),
    (["sample", "--n", 10_000_000], "asked for 10000000 drawings"),
    (["sample", "--device", "bogus"], "unknown device 'bogus'"),
    (["sample", "--device", "cuda:7"], "device 'cuda:7' asked for, but"),
    (["sample", "--out", "{file}/x.svg"], "{file} is a file, not a folder"),
    (["sample", "--out", "{tmp}/folder.svg"], "it is a folder"),
    (["complete", "--data", "{sheep}", "--candidates", 0], "asked for 0 drawings"),
    (["reconstruct", "--data", "{sheep}", "--index", ""], "no drawings given"),
    (["interpolate", "--data", "{sheep}", "--steps", 100_000_000], "asked for 100000000 drawings"),
])
def test_drawing_commands_refuse_absurd_requests_in_one_line(trained, sheep_path, tmp_path, capsys, args, message):
    (tmp_path / "a file").write_text("")
    (tmp_path / "folder.svg").mkdir()
    places = {"file": tmp_path / "a file", "tmp": tmp_path, "sheep": sheep_path}
    args = [str(a).format(**places) for a in args]
    out = [] if "--out" in args else ["--out", tmp_path / "out.svg"]
    assert message.format(**places) in one_line_error(capsys, args[0], "--model", trained, *args[1:], *out)


def test_train_refuses_an_out_dir_that_is_a_file_and_zero_steps(sheep_path, tmp_path, capsys):
    (tmp_path / "a file").write_text("")
    assert "is a file" in one_line_error(capsys, "train", "--data", sheep_path, "--out-dir", tmp_path / "a file",
                                         "--steps", 1, *TINY)
    assert "steps must be" in one_line_error(capsys, "train", "--data", sheep_path, "--out-dir", tmp_path / "run",
                                             "--steps", 0, *TINY)  # exited 0 and named a best/ never written
    assert not (tmp_path / "run").exists()


def test_generate_refuses_absurd_scales_and_counts(tmp_path, capsys):
    from sketchlab.models import DCGAN, DCGANConfig

    DCGAN(DCGANConfig(image_size=8, channels=1, latent_dim=4, width=4, disc_width=4)).save_pretrained(tmp_path / "m")
    for scale in (0, 100_000):
        message = one_line_error(capsys, "generate", "--model", tmp_path / "m", "--n", 1, "--scale", scale,
                                 "--out", tmp_path / "g.png")
        assert "scale must be a whole number from 1 to 16,384" in message or "at most 16,384 pixels a side" in message
    for n in (0, 100_000_000):  # 0 drew the default 64 images; 1e8 asked for 25.6 GB
        assert f"--n must be from 1 to 4,096, got {n}" in one_line_error(
            capsys, "generate", "--model", tmp_path / "m", "--n", n, "--out", tmp_path / "g.png")
    run_cli("generate", "--model", tmp_path / "m", "--n", 1, "--scale", 3, "--out", tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").size[0] % 3 == 0


def test_values_beyond_float32_are_left_out_and_only_written_models_are_named(sheep_path, tmp_path, capsys, caplog):
    from sketchlab.data.npz import load_npz, save_npz

    splits = {split: drawings[:40] for split, drawings in load_npz(sheep_path).items()}
    splits["valid"] = [drawing.astype(np.float64) for drawing in splits["valid"]]
    splits["valid"][0][0, 0] = 1e300  # finite as float64, inf as the float32 training reads
    save_npz(tmp_path / "huge.npz", splits)
    run = tmp_path / "run"
    run_cli("train", "--data", tmp_path / "huge.npz", "--out-dir", run, "--steps", 2, "--eval-every", 1,
            "--no-progress", "--no-tensorboard", *TINY)
    assert "1 non-finite" in caplog.text  # the drawing is counted and left out, so validation stays finite
    assert f"trained model: {run / 'best'}" in capsys.readouterr().out and (run / "best" / "model.safetensors").is_file()
    shutil.rmtree(run / "best")
    from sketchlab.cli.options import print_trained

    print_trained(str(run))
    assert capsys.readouterr().out.startswith("no best model was kept")
