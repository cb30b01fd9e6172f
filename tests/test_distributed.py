"""Data-parallel image training under torchrun: 2 gloo ranks on the CPU, at tiny sizes.

2 ranks x batch b equal 1 process x batch 2b (to rounding), resume under torchrun is exact, a rank killed
mid-run ends the run with a non-zero exit and a clear message and leaves the last checkpoint loadable.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from gan_lab import checkpoint, cli, convnets, distributed, images

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
# 16 px, width 8 (the quick budget), 5 critic steps per generator step
RUN = ["train", "--data", "shapes", "--budget", "quick", "--log-every", "2", "--seed", "1"]
ENV = {"OMP_NUM_THREADS": "1", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GAN_LAB_DEVICE": "cpu",
       "GAN_LAB_DIST_TIMEOUT": "20"}


def gan_lab(args, *, ranks=1, timeout=120):
    launcher = TORCHRUN if ranks == 2 else [sys.executable]
    return subprocess.run([*launcher, "-m", "gan_lab", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def weights(out: Path) -> dict:
    return checkpoint.load_checkpoint(out / "checkpoint.pt")


def no_gradient_keys() -> set:
    """G's parameters with no gradient in exact arithmetic: a bias right before a batch norm (the norm
    subtracts it again), and that norm's running mean, which follows it. Their computed gradients are
    rounding noise, which Adam scales up to steps of +-lr, so they are compared through G's output instead."""
    G = convnets.Generator(128, 16, 8, "dcgan")
    keys = set()
    for prefix, module in G.named_modules():
        if isinstance(module, nn.Sequential):
            for i, (a, b) in enumerate(zip(module, list(module)[1:])):
                if isinstance(b, nn.modules.batchnorm._BatchNorm) and getattr(a, "bias", None) is not None:
                    keys |= {f"{prefix}.{i}.bias", f"{prefix}.{i + 1}.running_mean"}
    assert keys    # the DCGAN generator has them: else this test compares less than it says
    return keys


def generator_output(state: dict) -> torch.Tensor:
    G = convnets.Generator(128, 16, 8, "dcgan")
    G.load_state_dict(state["generator"])
    G.train()          # batch statistics: independent of the biases that batch norm removes
    with torch.no_grad():
        return G(torch.randn(32, 128, generator=torch.Generator().manual_seed(5)))


@pytest.fixture(scope="module")
def ddp_four_steps(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp") / "four"
    proc = gan_lab([*RUN, "--out", str(out), "--steps", "4", "--batch-size", "4"], ranks=2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_two_ranks_with_batch_b_equal_one_process_with_batch_2b(ddp_four_steps, tmp_path):
    out, proc = ddp_four_steps
    assert "on 2 processes (global batch 8)" in proc.stdout
    proc = gan_lab([*RUN, "--out", str(tmp_path / "one"), "--steps", "4", "--batch-size", "8"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    two, one = weights(out), weights(tmp_path / "one")
    assert torch.equal(two["rng"], one["rng"])       # the same random numbers were drawn
    assert (two["world_size"], one["world_size"]) == (2, 1)
    skip = no_gradient_keys()
    for net in ("critic", "generator"):
        for key, value in one[net].items():
            if net == "generator" and key in skip:
                continue
            assert torch.allclose(two[net][key].float(), value.float(), rtol=1e-4, atol=1e-5), (net, key)
    assert torch.allclose(generator_output(two), generator_output(one), atol=1e-4)
    # 20 critic steps moved the weights far beyond that tolerance: the comparison can fail
    fresh = convnets.Critic(16, 8, "dcgan")
    assert max((fresh.state_dict()[k] - v).abs().max() for k, v in one["critic"].items()) > 1e-3
    for key in ("estimate", "loss_d", "loss_g", "penalty"):   # the logged numbers: means over the 2b rows
        assert two["history"][key] == pytest.approx(one["history"][key], rel=1e-4, abs=1e-6), key
    assert two["history"]["step"] == one["history"]["step"] == [2, 4]


def test_resume_under_torchrun_is_exact(ddp_four_steps, tmp_path):
    out = tmp_path / "resumed"
    args = [*RUN, "--out", str(out), "--batch-size", "4"]
    first = gan_lab([*args, "--steps", "2"], ranks=2)
    assert first.returncode == 0, first.stderr[-3000:]
    assert weights(out)["step"] == 2
    again = gan_lab([*args, "--steps", "4", "--resume"], ranks=2)
    assert again.returncode == 0, again.stderr[-3000:]
    straight, resumed = weights(ddp_four_steps[0]), weights(out)
    assert resumed["step"] == 4
    for part in ("generator", "critic"):
        for key, value in straight[part].items():
            assert torch.equal(resumed[part][key], value), (part, key)
    assert torch.equal(resumed["rng"], straight["rng"])
    # one process cannot continue a two-process run: its global batch would change
    config = images.ImageTrainConfig(**{**resumed["config"], "steps": 6})
    with pytest.raises(ValueError, match=r"written by 2 process\(es\), this run has 1"):
        images.train_images(torch.zeros(4, 3, 16, 16), config, checkpoint_path=out / "checkpoint.pt", resume=True)


def _rank_pid(parent: int, rank: int) -> int:
    """The pid of the worker of ``parent`` (torchrun) whose environment has RANK=rank (0 if none yet)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            env = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and f"RANK={rank}".encode() in env:
            return int(entry.name)
    return 0


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the rank's pid through /proc")
def test_a_killed_rank_ends_the_run_clearly_and_the_checkpoint_survives(tmp_path):
    out = tmp_path / "killed"
    ckpt = out / "checkpoint.pt"
    log = open(tmp_path / "log.txt", "w+")
    proc = subprocess.Popen([*TORCHRUN, "-m", "gan_lab", *RUN, "--out", str(out), "--steps", "100000",
                             "--batch-size", "4", "--checkpoint-every", "1", "--sample-every", "1000000"],
                            stdout=log, stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 60
        while not ckpt.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        victim = _rank_pid(proc.pid, 1)
        assert ckpt.exists() and victim, "the run did not start"
        time.sleep(0.3)                      # a few more steps
        os.kill(victim, signal.SIGKILL)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    log.seek(0)
    text = log.read()
    assert rc != 0, text[-3000:]
    # torchrun's summary names the rank that died; rank 0 says where the run stands if it saw it first
    assert "rank      : 1" in text and "SIGKILL" in text, text[-3000:]
    assert "rank 0 of 2 stopped" not in text or "--resume to continue" in text, text[-3000:]
    state = checkpoint.load_checkpoint(ckpt)          # complete, and a checkpoint of this run
    assert state["trainer"] == "gan_lab.images.train_images" and state["world_size"] == 2
    assert 1 <= state["step"] < 100000 and state["history"]["step"][-1] <= state["step"]
    assert not (out / "run.pt").exists()              # the run did not pretend to finish


def test_toy_data_is_refused_under_torchrun_with_two_processes(tmp_path, monkeypatch):
    for name, value in (("WORLD_SIZE", "2"), ("RANK", "0"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(name, value)
    args = cli.parser().parse_args(["train", "--data", "8gaussians", "--out", str(tmp_path / "toy")])
    with pytest.raises(cli.UsageError, match="toy runs train in one process"):
        cli.cmd_train(args)
    assert not (tmp_path / "toy").exists()            # refused before anything was written


def test_the_world_from_torchrun_environment():
    assert distributed.from_env({}) is None
    w = distributed.from_env({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert (w.rank, w.size, w.local_rank, w.main) == (3, 4, 1, False)
    assert w.share(8) == slice(6, 8)
    with pytest.raises(ValueError, match="RANK=4"):
        distributed.from_env({"WORLD_SIZE": "4", "RANK": "4"})
    with pytest.raises(ValueError, match="WORLD_SIZE='two'"):
        distributed.from_env({"WORLD_SIZE": "two", "RANK": "0"})
    with pytest.raises(ValueError, match="does not split evenly"):
        w.share(6)
    assert distributed.backend_for(torch.device("cpu")) == "gloo"
    assert distributed.backend_for(torch.device("cuda", 0)) == "nccl"
    assert distributed.current() is None and distributed.is_main()
    assert distributed.mean_over_ranks([1, 2.5], torch.device("cpu")) == [1.0, 2.5]
