"""python -m gan_lab: train, sample and evaluate from the shell, with the API's validation and clear errors."""
import json
import subprocess
import sys

import pytest

from gan_lab import cli, runs

TOY = ["--steps", "4", "--width", "8", "--depth", "1", "--batch-size", "16", "--eval-samples", "100"]
SHAPES = ["--steps", "3", "--n-critic", "1", "--budget", "quick"]


def gan_lab(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gan_lab", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
                                            "GAN_LAB_RUN_DIR": str(cwd or ".")})


def test_toy_train_writes_the_run_and_sample_and_evaluate_read_it(tmp_path):
    out = tmp_path / "toy"
    proc = gan_lab("train", "--data", "8gaussians", "--out", str(out), "--budget", "quick", "--seed", "3",
                   "--objective", "wgan-gp", "--lr-g", "2e-3", "--betas", "0.5,0.9", *TOY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "history.csv", "history.json", "run.pt",
                                                     "samples.png"]
    config = json.loads((out / "config.json").read_text())
    assert (config["seed"], config["lr_g"], config["betas"], config["steps"]) == (3, 2e-3, [0.5, 0.9], 4)
    result, meta = runs.load_result(out / "run.pt")
    assert meta["data"] == "8gaussians" and result.history["step"][-1] == 4
    assert json.loads((out / "history.json").read_text())["w1"] == result.history["w1"]
    assert (out / "history.csv").read_text().splitlines()[0].startswith("step,")

    proc = gan_lab("sample", str(out / "run.pt"), "--n", "50", "--out", str(tmp_path / "p.csv"), "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "x,y" and len(rows) == 51
    assert gan_lab("sample", str(out / "run.pt"), "--n", "50", "--out", str(tmp_path / "p.png")).returncode == 0
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"

    proc = gan_lab("evaluate", str(out / "run.pt"), "--n", "300", "--json", str(tmp_path / "s.json"))
    assert proc.returncode == 0, proc.stderr
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["data"] == "8gaussians" and scores["n_modes"] == 8 and 0 < scores["w1"] < 10
    assert f"w1: {scores['w1']:.4g}" in proc.stdout


def test_image_train_resumes_and_evaluate_gives_fid_and_kid(tmp_path):
    out = tmp_path / "img"
    assert gan_lab("train", "--data", "shapes", "--out", str(out), *SHAPES, "--checkpoint-every", "1").returncode == 0
    proc = gan_lab("train", "--data", "shapes", "--out", str(out), "--resume", *SHAPES[:-2], "--budget", "quick",
                   "--steps", "5", "--checkpoint-every", "1")
    assert proc.returncode == 0, proc.stderr
    result, meta = runs.load_result(out / "run.pt")
    assert meta["data"] == "shapes" and result.start_step == 3 and result.history["step"][-1] == 5
    proc = gan_lab("evaluate", str(out / "run.pt"), "--n", "100", "--json", str(tmp_path / "s.json"))
    assert proc.returncode == 0, proc.stderr
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["fid"] > 0 and "kid_std" in scores
    assert gan_lab("sample", str(out / "run.pt"), "--n", "9", "--out", str(tmp_path / "g.png")).returncode == 0


@pytest.mark.parametrize("args, message", [
    (["train", "--data", "nope", "--out", "o"], "--data 'nope'"),
    (["train", "--data", "8gaussians", "--out", "o", "--lr-g", "abc"], "--lr-g 'abc'"),
    (["train", "--data", "8gaussians", "--out", "o", "--size", "32"], "--size is not an option of TrainConfig"),
    (["train", "--data", "8gaussians", "--out", "o", "--n-critic", "0"], "n_critic must be an integer >= 1, got 0"),
    (["train", "--data", "shapes", "--out", "o", "--size", "20"], "size must be one of"),
    (["train", "--data", "8gaussians", "--out", "afile"], "is a file, not a directory"),
    (["train", "--data", "shapes", "--out", "o", "--resume"], "no o/checkpoint.pt to resume from"),
    (["sample", "missing.pt", "--out", "a.png"], "no checkpoint at 'missing.pt'"),
    (["sample", "afile", "--out", "a.png"], "cannot read checkpoint 'afile'"),
    (["sample", "missing.pt", "--out", "a.txt"], "give a .png"),
    (["evaluate", "missing.pt", "--n", "0"], "gan_lab evaluate: error: --n must be an integer >= 1, got 0\n"),
    (["sample", "missing.pt", "--n", "-2", "--out", "a.png"], "gan_lab sample: error: --n must be an integer >= 1, got -2\n"),
])
def test_bad_arguments_are_one_clear_line_and_exit_2_before_any_file_is_written(tmp_path, args, message):
    (tmp_path / "afile").write_text("not a checkpoint")
    proc = gan_lab(*args, cwd=tmp_path)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]       # nothing written


def test_every_config_field_is_an_option():
    from dataclasses import fields
    from gan_lab.images import ImageTrainConfig
    from gan_lab.train import TrainConfig
    help_text = cli.parser()._subparsers._group_actions[0].choices["train"].format_help()
    for cls in (TrainConfig, ImageTrainConfig):
        for f in fields(cls):
            if f.name not in cli.NOT_OPTIONS:
                assert cli._option(f.name) in help_text, f.name
