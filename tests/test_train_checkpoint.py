"""Toy runs (train, train_seeds) that checkpoint and resume: an interrupted run, resumed, is bit for bit the
run that was not interrupted, also after a SIGKILL; a checkpoint of another run is refused."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

import importlib

import gan_lab as gl
from gan_lab import checkpoint

train_module = importlib.import_module("gan_lab.train")   # gan_lab.train is also the function

ROOT = Path(__file__).resolve().parents[1]
TOY = dict(steps=40, width=16, depth=2, batch_size=32, log_every=5, eval_samples=100, progress=False)


class Interrupt(BaseException):
    """What a KeyboardInterrupt does to a cell: it ends the call wherever it is (on_log, here)."""


def interrupt_at_log(n: int):
    calls = [0]

    def on_log(result):
        calls[0] += 1
        if calls[0] == n:
            raise Interrupt
    return on_log


def same_run(a, b) -> None:
    for net in ("generator", "critic"):
        sa, sb = getattr(a, net).state_dict(), getattr(b, net).state_dict()
        assert sa.keys() == sb.keys()
        for k in sa:
            assert torch.equal(sa[k], sb[k]), (net, k)
    learned = lambda h: repr({k: v for k, v in h.items() if k != "seconds"})  # noqa: E731  (repr: nan == nan)
    assert learned(a.history) == learned(b.history)
    assert len(a.snapshots) == len(b.snapshots)
    for (s, x), (t, y) in zip(a.snapshots, b.snapshots):
        assert s == t and torch.equal(x, y)


@pytest.mark.parametrize("kwargs", [
    dict(objective="wgan-gp", snapshots=8),
    dict(objective="gan", n_critic_early=3, log_start=True),
    dict(objective="lsgan", instance_noise=0.1, pack=2),
    dict(objective="wgan-clip"),
], ids=["wgan-gp", "gan-early", "lsgan-noise-pack", "wgan-clip"])
def test_an_interrupted_run_resumes_to_the_uninterrupted_run(kwargs, tmp_path):
    path = tmp_path / "run.pt"
    whole = gl.train("8gaussians", seed=3, **TOY, **kwargs)
    with pytest.raises(Interrupt):
        gl.train("8gaussians", seed=3, **TOY, **kwargs, checkpoint_path=path, checkpoint_seconds=0,
                 on_log=interrupt_at_log(4))
    saved = checkpoint.load_checkpoint(path)["step"]
    assert 0 < saved < TOY["steps"]
    resumed = gl.train("8gaussians", seed=3, **TOY, **kwargs, checkpoint_path=path, resume=True)
    assert resumed.start_step == saved
    same_run(whole, resumed)
    assert checkpoint.load_checkpoint(path)["step"] == TOY["steps"]   # and the finished run is saved


def test_batched_seeds_resume_every_seed(tmp_path):
    path = tmp_path / "seeds.pt"
    whole = gl.train_seeds("25gaussians", seeds=[0, 5, 9], **TOY)
    with pytest.raises(Interrupt):   # on_log is called per seed: the 8th call is at the third log
        gl.train_seeds("25gaussians", seeds=[0, 5, 9], **TOY, checkpoint_path=path, checkpoint_seconds=0,
                       on_log=interrupt_at_log(8))
    assert checkpoint.load_checkpoint(path)["step"] == 10
    resumed = gl.train_seeds("25gaussians", seeds=[0, 5, 9], **TOY, checkpoint_path=path, resume="auto")
    for a, b in zip(whole, resumed):
        assert b.start_step == 10
        same_run(a, b)


def test_a_stopped_run_stays_stopped_and_a_finished_one_is_not_retrained(tmp_path):
    path = tmp_path / "run.pt"

    def stop(result):
        if result.history["step"][-1] >= 15:
            raise gl.StopTraining
    first = gl.train("8gaussians", **TOY, checkpoint_path=path, on_log=stop)
    assert first.stopped and first.history["step"][-1] == 15
    again = gl.train("8gaussians", **TOY, checkpoint_path=path, resume=True)
    assert again.stopped and again.start_step == 15
    same_run(first, again)
    done = gl.train("8gaussians", seed=1, **TOY, checkpoint_path=tmp_path / "done.pt")
    assert checkpoint.load_checkpoint(tmp_path / "done.pt")["step"] == TOY["steps"]
    loaded = gl.train("8gaussians", seed=1, **TOY, checkpoint_path=tmp_path / "done.pt", resume=True)
    assert loaded.start_step == TOY["steps"]
    same_run(done, loaded)


def test_a_short_run_writes_its_checkpoint_only_at_the_end(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    writes = []
    real_save = checkpoint.save_checkpoint
    monkeypatch.setattr(checkpoint, "save_checkpoint", lambda p, s: (writes.append(s["step"]), real_save(p, s)))
    gl.train("8gaussians", **TOY, checkpoint_path=path)            # checkpoint_seconds=60: far longer
    assert writes == [TOY["steps"]]
    writes.clear()
    gl.train("8gaussians", **TOY, checkpoint_path=tmp_path / "often.pt", checkpoint_seconds=0)
    assert writes == list(range(5, TOY["steps"], 5)) + [TOY["steps"]]


@pytest.mark.parametrize("change, match", [
    (dict(lr_d=2e-3), "lr_d"),
    (dict(steps=50), "steps"),
    (dict(data="25gaussians"), "other data"),
    (dict(data="tensor"), "other data"),
    (dict(seeds=[3, 4]), "seed"),
    (dict(offset="7"), "GAN_LAB_SEED_OFFSET=0"),
])
def test_a_checkpoint_of_another_run_is_refused_before_any_work(change, match, tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    gl.train("8gaussians", seed=3, **TOY, checkpoint_path=path)
    before = path.read_bytes()
    data = change.pop("data", "8gaussians")
    if data == "tensor":
        data = gl.data.sample("8gaussians", 500, seed=0)
    if "offset" in change:
        monkeypatch.setenv("GAN_LAB_SEED_OFFSET", change.pop("offset"))
    monkeypatch.setattr(train_module.losses, "gradient_penalty",
                        lambda *a, **k: pytest.fail("trained before refusing the checkpoint"))
    kwargs = {**TOY, "seed": 3, **change}
    with pytest.raises(ValueError, match=match):
        if "seeds" in kwargs:
            seeds = kwargs.pop("seeds")
            kwargs.pop("seed")
            gl.train_seeds(data, seeds=seeds, **kwargs, checkpoint_path=path, resume=True)
        else:
            gl.train(data, **kwargs, checkpoint_path=path, resume=True)
    assert path.read_bytes() == before


def test_an_image_checkpoint_or_a_broken_file_is_refused(tmp_path):
    path = tmp_path / "image.pt"
    checkpoint.save_checkpoint(path, {"trainer": "gan_lab.images.train_images", "step": 1})
    with pytest.raises(checkpoint.CheckpointError, match="not one of train"):
        gl.train("8gaussians", **TOY, checkpoint_path=path, resume=True)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError):
        gl.train("8gaussians", **TOY, checkpoint_path=tmp_path / "junk.pt", resume=True)
    with pytest.raises(ValueError, match="resume=True needs a checkpoint_path"):
        gl.train("8gaussians", **TOY, resume=True)


KILLED_RUN = textwrap.dedent("""
    import sys, time
    import torch
    torch.set_num_threads(1)
    import gan_lab as gl
    path, seeds, kwargs = sys.argv[1], eval(sys.argv[2]), eval(sys.argv[3])
    # a pause at every log keeps the run going long after its first checkpoint; no effect on the numbers
    gl.train_seeds("8gaussians", seeds=seeds, **kwargs, checkpoint_path=path, checkpoint_seconds=0,
                   on_log=lambda result: time.sleep(0.01))
""")


def test_a_run_killed_mid_training_resumes_to_bit_identical_weights(tmp_path):
    path = tmp_path / "killed.pt"
    kwargs = {**TOY, "steps": 100_000, "log_every": 2}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(path), "[1, 2]", repr(kwargs)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not path.exists():
            if proc.poll() is not None:
                pytest.fail(f"the training subprocess ended early:\n{proc.stdout.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint within 120 s")
            time.sleep(0.005)
        time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)      # wherever it is: mid-step, or mid-write of the next checkpoint
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = checkpoint.load_checkpoint(path)["step"]
    assert saved >= 2 and saved % 2 == 0
    # the same run, but to a nearer end: steps is part of a toy run's identity, so resume from a copy of
    # the saved state under the shorter config is not allowed; compare the first `saved + 4` steps instead
    total = saved + 4
    state = checkpoint.load_checkpoint(path)
    state["configs"] = [{**c, "steps": total} for c in state["configs"]]
    checkpoint.save_checkpoint(path, state)
    short = {**kwargs, "steps": total}
    resumed = gl.train_seeds("8gaussians", seeds=[1, 2], **short, checkpoint_path=path, resume=True)
    whole = gl.train_seeds("8gaussians", seeds=[1, 2], **short)
    for a, b in zip(whole, resumed):
        assert b.start_step == saved
        same_run(a, b)
