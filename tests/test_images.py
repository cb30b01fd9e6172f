"""gan_lab.images.train_images: checks before work, a WGAN-GP that trains, bit-identical seeds, and
checkpoints that resume exactly, also after a SIGKILL."""
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from gan_lab import data as gdata
from gan_lab import images as gi
from gan_lab.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from gan_lab.images import ImageTrainConfig, image_grid, to_uint8, train_images
from gan_lab.train import StopTraining, TrainingDiverged

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ImageTrainConfig(size=16, width=8, noise_dim=16, batch_size=8, n_critic=2, steps=4, log_every=2,
                        snapshots=4, sample_every=2, checkpoint_every=2, progress=False)


@pytest.fixture(scope="module")
def pictures() -> torch.Tensor:
    """32 synthetic 16 x 16 images in [-1, 1]: a bright square on a dark background, random place and colour."""
    g = torch.Generator().manual_seed(0)
    x = torch.full((32, 3, 16, 16), -1.0)
    for i in range(32):
        r, c = torch.randint(0, 10, (2,), generator=g).tolist()
        x[i, :, r:r + 6, c:c + 6] = torch.rand(3, 1, 1, generator=g) * 2 - 1
    return x


def assert_bit_identical(a: torch.nn.Module, b: torch.nn.Module) -> None:
    wa, wb = a.state_dict(), b.state_dict()
    assert list(wa) == list(wb)
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def run(pictures, **kw):
    return train_images(pictures, TINY, **{"device": "cpu", **kw})


# ---- configuration -------------------------------------------------------------------------------------

def test_defaults_are_the_papers_image_settings():
    cfg = ImageTrainConfig()
    assert (cfg.penalty_weight, cfg.n_critic, cfg.lr, cfg.betas) == (10.0, 5, 1e-4, (0.0, 0.9))
    assert (cfg.size, cfg.kind, cfg.critic_norm, cfg.amp) == (32, "dcgan", "none", "auto")


def test_betas_given_as_a_list_become_a_tuple():
    assert ImageTrainConfig(betas=[0.5, 0.99]).betas == (0.5, 0.99)


BAD = [
    (dict(size=28), "size.*28"), (dict(width=0), "width.*0"), (dict(kind="vae"), "'vae'"),
    (dict(critic_norm="batch"), "'batch'"), (dict(noise_dim=-2), "noise_dim.*-2"), (dict(steps=0), "steps.*0"),
    (dict(steps=1.5), "steps.*1.5"), (dict(batch_size=True), "batch_size.*True"), (dict(n_critic=0), "n_critic.*0"),
    (dict(penalty_weight=-1.0), "penalty_weight.*-1.0"), (dict(penalty_weight=float("nan")), "penalty_weight.*nan"),
    (dict(lr=0.0), "lr.*0.0"), (dict(lr=float("inf")), "lr.*inf"), (dict(betas=(0.5, 1.0)), r"betas.*\(0.5, 1.0\)"),
    (dict(betas=(0.5,)), "betas"), (dict(seed=-1), "seed.*-1"), (dict(log_every=0), "log_every.*0"),
    (dict(snapshots=-1), "snapshots.*-1"), (dict(sample_every=0), "sample_every.*0"),
    (dict(checkpoint_every=-5), "checkpoint_every.*-5"), (dict(amp="yes"), "amp.*'yes'"), (dict(amp=1), "amp.*1"),
    (dict(amp="float32"), "amp.*'float32'"),
    (dict(progress="no"), "progress.*'no'"),
]


@pytest.mark.parametrize("bad, match", BAD)
def test_bad_config_fields_raise_naming_the_value(bad, match):
    with pytest.raises(ValueError, match=match):
        ImageTrainConfig(**bad)


def test_unknown_override_and_bad_arguments_raise(pictures, tmp_path):
    with pytest.raises(ValueError, match="unknown training option.*'stepz'"):
        run(pictures, stepz=3)
    with pytest.raises(ValueError, match="on_log"):
        run(pictures, on_log=3)
    with pytest.raises(ValueError, match="resume.*'maybe'"):
        run(pictures, checkpoint_path=tmp_path / "c.pt", resume="maybe")
    with pytest.raises(ValueError, match="resume=True needs a checkpoint_path"):
        run(pictures, resume=True)
    with pytest.raises(ValueError, match="missing_dir"):
        run(pictures, checkpoint_path=tmp_path / "missing_dir" / "c.pt")
    with pytest.raises(ValueError, match="amp=True needs a CUDA device"):
        run(pictures, amp=True)
    with pytest.raises(ValueError, match="device"):
        run(pictures, device="not-a-device")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("make, match", [
    (lambda x: (x * 127.5 + 127.5).to(torch.uint8), "float.*uint8.*to_tensor"),
    (lambda x: x[:, :1], r"\(n, 3, 16, 16\).*\(32, 1, 16, 16\)"),
    (lambda x: torch.nn.functional.interpolate(x, size=32), r"size=16.*\(32, 3, 32, 32\)"),
    (lambda x: x[:0], r"n > 0"),
    (lambda x: x * 2, r"\[-1, 1\].*got values in \[-2, "),
    (lambda x: (x + 1) * 127.5, r"\[-1, 1\].*got values in \[0, "),
    (lambda x: x.clone().index_put_((torch.tensor([3]),), torch.tensor(float("nan"))), "NaN.*index \\[3"),
    (lambda x: x.numpy(), "tensor.*ndarray"),
])
def test_bad_images_raise_before_any_work_or_file(pictures, tmp_path, monkeypatch, make, match):
    monkeypatch.setattr(gi.convnets, "Generator", lambda *a, **k: pytest.fail("built a network"))
    with pytest.raises(ValueError, match=match):
        run(make(pictures), checkpoint_path=tmp_path / "c.pt")
    assert os.listdir(tmp_path) == []


# ---- training ------------------------------------------------------------------------------------------

def test_training_logs_finite_numbers_and_uint8_samples(pictures):
    result = run(pictures)
    assert result.history["step"] == [2, 4]
    for key in ("estimate", "penalty", "loss_d", "loss_g", "seconds"):
        assert len(result.history[key]) == 2 and all(math.isfinite(v) for v in result.history[key]), key
    assert all(v >= 0 for v in result.history["penalty"])
    assert result.history["seconds"][0] < result.history["seconds"][1]
    assert [s for s, _ in result.samples] == [0, 2, 4]
    assert all(x.dtype == torch.uint8 and x.shape == (4, 3, 16, 16) for _, x in result.samples)
    assert result.start_step == 0 and not result.stopped and result.seconds > 0
    x = result.sample(5, seed=0)
    assert x.shape == (5, 3, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(x, result.sample(5, seed=0)) and result.generator.training


def test_training_changes_every_weight_of_both_nets(pictures):
    from gan_lab import convnets, settings
    settings.seed_everything(TINY.seed)
    G0 = convnets.Generator(TINY.noise_dim, TINY.size, TINY.width, TINY.kind)
    D0 = convnets.Critic(TINY.size, TINY.width, TINY.kind)
    result = run(pictures, steps=2)
    for initial, trained in ((G0, result.generator), (D0, result.critic)):
        for (name, p0), p in zip(initial.named_parameters(), trained.parameters()):
            if trained is result.critic and name == "head.bias":
                # f's constant cancels in E[f(x)] - E[f(G(z))] and is not in grad f: its gradient is 0
                assert torch.equal(p0, p)
            else:
                assert not torch.equal(p0, p), name


def test_the_first_snapshot_is_the_untrained_generator_on_the_fixed_z(pictures):
    from gan_lab import convnets, settings
    settings.seed_everything(TINY.seed)
    G0 = convnets.Generator(TINY.noise_dim, TINY.size, TINY.width, TINY.kind).eval()
    result = run(pictures)
    step, first = result.samples[0]
    # the last snapshot is G(z_fixed) too: the first must differ from it and equal G0 on those z
    z = torch.randn(TINY.snapshots, TINY.noise_dim, generator=torch.Generator().manual_seed(TINY.seed + 30_000))
    with torch.no_grad():
        assert step == 0 and torch.equal(first, to_uint8(G0(z)))
    assert not torch.equal(first, result.samples[-1][1])


def test_same_seed_gives_bit_identical_weights_and_history(pictures):
    a, b = run(pictures, seed=3), run(pictures, seed=3)
    assert_bit_identical(a.generator, b.generator)
    assert_bit_identical(a.critic, b.critic)
    assert {k: v for k, v in a.history.items() if k != "seconds"} == \
        {k: v for k, v in b.history.items() if k != "seconds"}
    assert all(torch.equal(x, y) for (_, x), (_, y) in zip(a.samples, b.samples))
    c = run(pictures, seed=4)
    assert not torch.equal(a.critic.head.weight, c.critic.head.weight)


def test_resnet_kind_and_layer_norm_train(pictures):
    result = run(pictures, kind="resnet", critic_norm="layer", steps=2, snapshots=0)
    assert result.history["step"] == [2] and result.samples == []
    assert all(math.isfinite(result.history[k][0]) for k in ("estimate", "penalty", "loss_d", "loss_g"))


def test_zero_penalty_weight_logs_nan_penalty(pictures):
    result = run(pictures, penalty_weight=0.0, steps=2)
    assert math.isnan(result.history["penalty"][0]) and math.isfinite(result.history["loss_d"][0])


def test_on_log_extras_and_stop_training_checkpoint_where_they_stop(pictures, tmp_path):
    path = tmp_path / "c.pt"
    calls = []

    def on_log(result):
        calls.append(result.history["step"][-1])
        if len(calls) == 2:
            raise StopTraining
        return {"calls": len(calls), "np": torch.tensor(0.5).numpy()}

    result = run(pictures, steps=10, log_every=1, checkpoint_every=0, checkpoint_path=path, on_log=on_log)
    assert calls == [1, 2] and result.stopped and result.history["step"] == [1, 2]
    assert result.history["calls"] == [1] and result.history["np"] == [0.5]
    assert load_checkpoint(path)["step"] == 2


def test_a_nan_loss_raises_training_diverged_and_keeps_the_last_good_checkpoint(pictures, tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    run(pictures, steps=2, checkpoint_path=path)
    good = path.read_bytes()
    monkeypatch.setattr(gi.losses, "wasserstein_generator_loss", lambda s: s.mean() * float("nan"))
    with pytest.raises(TrainingDiverged, match="step 4.*generator loss nan") as info:
        run(pictures, steps=4, checkpoint_path=path, resume=True)
    assert info.value.result.history["step"] == [2, 4]
    assert path.read_bytes() == good          # the step-4 checkpoint (NaN weights) was not written


def test_image_helpers():
    x = torch.tensor([-1.0, 0.0, 1.0, 2.0]).view(1, 1, 1, 4).expand(2, 3, 1, 4)
    assert to_uint8(x)[0, 0, 0].tolist() == [0, 128, 255, 255]
    grid = image_grid(torch.zeros(5, 3, 4, 4, dtype=torch.uint8), ncols=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3) and grid.dtype == torch.uint8
    with pytest.raises(ValueError, match=r"\(n, 3, h, w\)"):
        image_grid(torch.zeros(5, 4, 4))


# ---- checkpoints and resume ----------------------------------------------------------------------------

def test_checkpoint_holds_the_whole_run(pictures, tmp_path):
    path = tmp_path / "c.pt"
    result = run(pictures, checkpoint_path=path)
    state = load_checkpoint(path)
    assert state["step"] == 4 and state["config"] == asdict(TINY)
    assert state["rng"].dtype == torch.uint8
    assert state["history"]["step"] == [2, 4] and [s for s, _ in state["samples"]] == [0, 2, 4]
    for name, tensor in result.generator.state_dict().items():
        assert torch.equal(state["generator"][name], tensor), name
    assert os.listdir(tmp_path) == ["c.pt"]


def test_resume_continues_exactly_like_an_uninterrupted_run(pictures, tmp_path):
    path = tmp_path / "c.pt"
    whole = run(pictures, steps=6, log_every=1)
    run(pictures, steps=3, log_every=1, checkpoint_path=path)
    resumed = run(pictures, steps=6, log_every=1, checkpoint_path=path, resume=True)
    assert resumed.start_step == 3
    assert_bit_identical(whole.generator, resumed.generator)
    assert_bit_identical(whole.critic, resumed.critic)
    for key in ("step", "estimate", "penalty", "loss_d", "loss_g"):
        assert whole.history[key] == resumed.history[key], key
    assert load_checkpoint(path)["step"] == 6


def test_a_checkpoint_from_before_conditioning_resumes_exactly(pictures, tmp_path):
    """Checkpoints written before ``condition`` / ``condition_dim`` existed hold no such config entries: an
    unconditional run resumes from them as from a new one."""
    path = tmp_path / "c.pt"
    whole = run(pictures, steps=6, log_every=1)
    run(pictures, steps=3, log_every=1, checkpoint_path=path)
    state = load_checkpoint(path)
    assert state["config"]["condition"] == () and "condition_dim" in state["config"]
    del state["config"]["condition"], state["config"]["condition_dim"]
    save_checkpoint(path, state)
    resumed = run(pictures, steps=6, log_every=1, checkpoint_path=path, resume=True)
    assert resumed.start_step == 3 and resumed.config.condition == ()
    assert_bit_identical(whole.generator, resumed.generator)
    assert_bit_identical(whole.critic, resumed.critic)
    assert whole.history["loss_d"] == resumed.history["loss_d"]


def test_resume_at_the_last_step_does_no_work(pictures, tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    done = run(pictures, checkpoint_path=path)
    monkeypatch.setattr(gi.losses, "gradient_penalty", lambda *a, **k: pytest.fail("trained"))
    again = run(pictures, checkpoint_path=path, resume=True)
    assert again.start_step == 4 and again.history == done.history
    assert_bit_identical(done.generator, again.generator)


def test_resume_auto_starts_afresh_without_a_file_and_resumes_with_one(pictures, tmp_path):
    path = tmp_path / "c.pt"
    first = run(pictures, steps=2, checkpoint_path=path, resume="auto")
    assert first.start_step == 0 and path.exists()
    second = run(pictures, steps=4, checkpoint_path=path, resume="auto")
    assert second.start_step == 2


def test_resume_with_a_mismatched_config_errors_before_any_work(pictures, tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    run(pictures, steps=2, checkpoint_path=path)
    before = path.read_bytes()
    monkeypatch.setattr(gi.convnets, "Generator", lambda *a, **k: pytest.fail("built a network"))
    with pytest.raises(ValueError, match=r"different configuration \(width: checkpoint 8, given 16; lr: .*\)"):
        run(pictures, steps=4, checkpoint_path=path, resume=True, width=16, lr=2e-4)
    with pytest.raises(ValueError, match="step 2, beyond steps=1"):
        run(pictures, steps=1, checkpoint_path=path, resume=True)
    assert path.read_bytes() == before


def test_resume_under_another_seed_offset_is_refused_and_under_the_same_one_is_exact(pictures, tmp_path,
                                                                                    monkeypatch):
    path = tmp_path / "c.pt"
    monkeypatch.setenv("GAN_LAB_SEED_OFFSET", "5")
    whole = run(pictures, steps=4, log_every=1)
    run(pictures, steps=2, log_every=1, checkpoint_path=path)
    assert load_checkpoint(path)["seed_offset"] == 5
    before = path.read_bytes()
    monkeypatch.delenv("GAN_LAB_SEED_OFFSET")
    with pytest.raises(ValueError, match="GAN_LAB_SEED_OFFSET=5, this process has 0"):
        run(pictures, steps=4, log_every=1, checkpoint_path=path, resume=True)
    assert path.read_bytes() == before
    monkeypatch.setenv("GAN_LAB_SEED_OFFSET", "5")
    resumed = run(pictures, steps=4, log_every=1, checkpoint_path=path, resume=True)
    assert_bit_identical(whole.generator, resumed.generator)


def test_resume_refuses_missing_and_foreign_checkpoints(pictures, tmp_path):
    with pytest.raises(FileNotFoundError, match="none.pt"):
        run(pictures, checkpoint_path=tmp_path / "none.pt", resume=True)
    save_checkpoint(tmp_path / "other.pt", {"step": 3})
    with pytest.raises(CheckpointError, match="not one of train_images"):
        run(pictures, checkpoint_path=tmp_path / "other.pt", resume=True)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        run(pictures, checkpoint_path=tmp_path / "junk.pt", resume=True)


KILLED_RUN = textwrap.dedent("""
    import sys, time
    import torch
    torch.set_num_threads(1)
    from gan_lab.images import ImageTrainConfig, train_images
    images_path, checkpoint_path, config = sys.argv[1], sys.argv[2], eval(sys.argv[3])
    # a short pause at every log keeps the run going long after its first checkpoint; no effect on the numbers
    train_images(torch.load(images_path), ImageTrainConfig(**config), checkpoint_path=checkpoint_path,
                 device="cpu", on_log=lambda result: time.sleep(0.02))
""")


def test_a_run_killed_after_a_checkpoint_resumes_to_bit_identical_weights(pictures, tmp_path):
    images_path, path = tmp_path / "images.pt", tmp_path / "c.pt"
    torch.save(pictures, images_path)
    config = replace(TINY, steps=100_000, log_every=1, checkpoint_every=2)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(images_path), str(path), repr(asdict(config))],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not path.exists():
            if proc.poll() is not None:
                pytest.fail(f"the training subprocess ended early:\n{proc.stdout.read().decode()}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint within 120 s")
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)      # wherever it is: mid-step, or mid-write of the next checkpoint
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = load_checkpoint(path)["step"]     # the last complete checkpoint
    assert saved >= 2 and saved % 2 == 0
    total = saved + 3
    resumed = train_images(pictures, replace(config, steps=total), checkpoint_path=path, resume=True, device="cpu")
    whole = train_images(pictures, replace(config, steps=total), device="cpu")
    assert resumed.start_step == saved
    assert_bit_identical(whole.generator, resumed.generator)
    assert_bit_identical(whole.critic, resumed.critic)
    assert whole.history["loss_d"] == resumed.history["loss_d"] and resumed.history["step"] == list(range(1, total + 1))


# ---- mixed precision, run on the CPU's autocast (the CUDA path is the same code with another device) -----

def test_amp_auto_is_float32_off_cuda_and_the_gpus_half_type_on_cuda(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert gi._amp(ImageTrainConfig(), cpu) is None and gi._amp(ImageTrainConfig(amp=False), cuda) is None
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (8, 0))         # A100
    assert gi._amp(ImageTrainConfig(), cuda) is torch.bfloat16 and gi._amp(ImageTrainConfig(amp=True), cuda) is torch.bfloat16
    # Colab's T4: torch.cuda.is_bf16_supported() says yes there (emulated), but float16 is the fast type
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (7, 5))
    assert gi._amp(ImageTrainConfig(), cuda) is torch.float16
    assert gi._amp(ImageTrainConfig(amp="float16"), cpu) is torch.float16
    assert gi._amp(ImageTrainConfig(amp="bfloat16"), cpu) is torch.bfloat16


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_mixed_precision_runs_the_nets_in_half_and_the_penalty_in_float32(pictures, monkeypatch, dtype):
    from gan_lab import convnets
    penalty_calls, critic_outputs = [], []
    real_penalty, real_forward = gi.losses.gradient_penalty, convnets.Critic.forward

    def recording_penalty(critic, real, fake, **kw):
        penalty_calls.append((real.dtype, fake.dtype, torch.is_autocast_enabled("cpu")))
        return real_penalty(critic, real, fake, **kw)

    def recording_forward(self, x):
        out = real_forward(self, x)
        critic_outputs.append(out.dtype)
        return out

    monkeypatch.setattr(gi.losses, "gradient_penalty", recording_penalty)
    monkeypatch.setattr(convnets.Critic, "forward", recording_forward)
    mixed = run(pictures, amp=dtype)
    assert all(math.isfinite(v) for k in ("estimate", "penalty", "loss_d", "loss_g") for v in mixed.history[k])
    assert penalty_calls and all(call == (torch.float32, torch.float32, False) for call in penalty_calls)
    assert getattr(torch, dtype) in critic_outputs and torch.float32 in critic_outputs  # scores half, penalty fp32
    assert all(p.dtype == torch.float32 for p in mixed.critic.parameters())    # master weights stay fp32
    monkeypatch.undo()
    full = run(pictures)
    gap = max((p - q).abs().max().item() for p, q in zip(mixed.critic.parameters(), full.critic.parameters()))
    assert 0 < gap < 1e-2   # autocast really changed the arithmetic, and only by rounding


def test_float16_keeps_a_grad_scaler_per_player_and_resumes_exactly(pictures, tmp_path):
    half = dict(amp="float16", steps=6, log_every=1)
    whole = run(pictures, **half, checkpoint_path=tmp_path / "whole.pt")
    run(pictures, **{**half, "steps": 3}, checkpoint_path=tmp_path / "c.pt")
    resumed = run(pictures, **half, checkpoint_path=tmp_path / "c.pt", resume=True)
    assert resumed.start_step == 3
    assert_bit_identical(whole.generator, resumed.generator)
    assert_bit_identical(whole.critic, resumed.critic)
    assert whole.history["loss_d"] == resumed.history["loss_d"]
    scalers = load_checkpoint(tmp_path / "c.pt")["scalers"]
    assert scalers == load_checkpoint(tmp_path / "whole.pt")["scalers"]    # the scalers' state resumed too
    g, d = scalers
    # the growth trackers count the updates since the last overflow: 1 per step for G, n_critic for f
    assert 0 < g["_growth_tracker"] <= 6 and 0 < d["_growth_tracker"] <= 6 * TINY.n_critic
    assert g["_growth_tracker"] != d["_growth_tracker"]
    bf16 = run(pictures, amp="bfloat16", checkpoint_path=tmp_path / "b.pt")
    assert load_checkpoint(tmp_path / "b.pt")["scalers"] == [None, None]   # bfloat16 needs no scaling


def test_float16_skips_an_overflowing_update_instead_of_writing_inf_into_the_weights(pictures, monkeypatch,
                                                                                       tmp_path):
    from gan_lab import convnets, settings
    generator_loss = gi.losses.wasserstein_generator_loss
    # a loss that is finite in float32 but whose scaled gradient overflows
    monkeypatch.setattr(gi.losses, "wasserstein_generator_loss", lambda s: generator_loss(s) * 1e36)
    result = run(pictures, amp="float16", steps=2, snapshots=0, checkpoint_path=tmp_path / "c.pt")
    settings.seed_everything(TINY.seed)   # the networks exactly as train_images builds them, untrained
    untrained = convnets.Generator(TINY.noise_dim, TINY.size, TINY.width, TINY.kind)
    # every generator update was skipped (the batch-norm running statistics still move with each forward pass)
    assert all(torch.equal(p, q) for p, q in zip(untrained.parameters(), result.generator.parameters()))
    assert all(torch.isfinite(p).all() for p in result.critic.parameters())
    g, d = load_checkpoint(tmp_path / "c.pt")["scalers"]
    fresh = torch.amp.GradScaler("cpu")
    assert g["scale"] == fresh.get_scale() * fresh.get_backoff_factor() ** 2   # backed off at both steps
    assert d["scale"] == fresh.get_scale()                                      # the critic's steps went through


# ---- the full budget's networks (chapters 6 and 7: 64 px, width 64), run for a few steps on the CPU --------

def test_the_full_budget_networks_train_and_resume_exactly_at_64_px(tmp_path):
    from gan_lab import data
    shapes = data.to_tensor(data.shapes_dataset(data.SHAPES_TRAIN, 4, size=64, seed=0)[0])
    full = dict(size=64, width=64, batch_size=4, n_critic=2, steps=3, log_every=1, snapshots=2,
                sample_every=1, progress=False, device="cpu")
    whole = train_images(shapes, **full)
    train_images(shapes, **{**full, "steps": 1}, checkpoint_path=tmp_path / "c.pt")
    resumed = train_images(shapes, **full, checkpoint_path=tmp_path / "c.pt", resume=True)
    assert resumed.start_step == 1 and resumed.history["step"] == [1, 2, 3]
    assert_bit_identical(whole.generator, resumed.generator)
    assert_bit_identical(whole.critic, resumed.critic)
    assert all(math.isfinite(v) for v in whole.history["penalty"])
    assert [x.shape for _, x in whole.samples] == [(2, 3, 64, 64)] * 4


# ---- the checkpoint is never lost nor poisoned ----------------------------------------------------------

def test_an_unwritable_checkpoint_target_is_refused_before_any_work(pictures, tmp_path, monkeypatch):
    monkeypatch.setattr(gi.convnets, "Generator", lambda *a, **k: pytest.fail("built a network"))
    with pytest.raises(ValueError, match="is a directory"):
        run(pictures, checkpoint_path=tmp_path)
    monkeypatch.setattr(gi._checkpoint.tempfile, "mkstemp",
                        lambda *a, **k: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.raises(ValueError, match="cannot create files"):
        run(pictures, checkpoint_path=tmp_path / "c.pt")
    assert os.listdir(tmp_path) == []


def test_diverged_weights_never_replace_the_last_good_checkpoint(pictures, tmp_path, monkeypatch):
    """Divergence is checked at log steps; a save between them must not write a NaN state over a good one."""
    path = tmp_path / "c.pt"
    run(pictures, steps=2, checkpoint_every=1, log_every=10, checkpoint_path=path)
    good = load_checkpoint(path)
    real_update = gi._update

    def poisoning_update(loss, opt, scaler):   # every update of the resumed run (step 3 on) writes NaN
        real_update(loss, opt, scaler)
        for group in opt.param_groups:
            for p in group["params"]:
                p.data.fill_(float("nan"))

    monkeypatch.setattr(gi, "_update", poisoning_update)
    with pytest.raises(TrainingDiverged, match="was not overwritten"):
        run(pictures, steps=6, checkpoint_every=1, log_every=10, checkpoint_path=path, resume=True)
    kept = load_checkpoint(path)
    assert kept["step"] == 2
    for name, tensor in good["generator"].items():
        assert torch.equal(kept["generator"][name], tensor), name


def test_numpy_numbers_from_the_user_become_plain_and_the_checkpoint_loads(pictures, tmp_path):
    import numpy as np
    path = tmp_path / "c.pt"
    lr = np.logspace(-4, -3, 3)[0]                       # np.float64, a float subclass
    result = run(pictures, steps=2, lr=lr, penalty_weight=np.float64(10.0), checkpoint_path=path, log_every=1,
                 on_log=lambda r: {"mine": np.float32(0.5), "count": np.int64(3)})
    assert type(result.config.lr) is float and type(result.config.penalty_weight) is float
    assert [type(v) for v in result.history["mine"]] == [float, float]
    state = load_checkpoint(path)
    assert state["config"]["lr"] == pytest.approx(1e-4) and state["history"]["count"] == [3.0, 3.0]


@pytest.mark.parametrize("kw, match", [
    (dict(size=16.0), "size must be one of"), (dict(batch_size=1), "batch_size must be an integer >= 2"),
    (dict(lr=True), "lr must be"), (dict(betas=("0.5", 0.9)), "betas"),
])
def test_bad_image_settings_are_refused_up_front(pictures, kw, match):
    with pytest.raises(ValueError, match=match):
        ImageTrainConfig(**kw)


def test_nan_images_have_no_pixels_and_a_bad_on_log_return_is_named_at_the_first_log(pictures):
    x = torch.zeros(2, 3, 4, 4)
    x[1, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        to_uint8(x)
    with pytest.raises(ValueError, match="NaN"):
        image_grid(x)
    with pytest.raises(ValueError, match=r"on_log must return None or a dict.*list.*step 1\)"):
        run(pictures, steps=3, log_every=1, on_log=lambda r: [1, 2])


def test_a_checkpoint_whose_weights_do_not_fit_is_a_clear_error(pictures, tmp_path):
    path = tmp_path / "c.pt"
    run(pictures, steps=2, checkpoint_path=path)
    state = load_checkpoint(path)
    first = next(iter(state["generator"]))
    state["generator"][first] = torch.zeros(1)          # a tampered or foreign file with the right config
    save_checkpoint(path, state)
    with pytest.raises(CheckpointError, match="networks do not fit the configuration"):
        run(pictures, steps=4, checkpoint_path=path, resume=True)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_every_image_to_pixel_function_refuses_non_finite_values(bad):
    x = torch.zeros(2, 3, 4, 4)
    x[0, 1, 2, 3] = bad
    for fn in (to_uint8, image_grid):
        with pytest.raises(ValueError, match=r"NaN or Inf \(1 of 96 values, first at index \[0, 1, 2, 3\]\)"):
            fn(x)
    with pytest.raises(ValueError, match="NaN or Inf"):
        gdata.to_images(x)


def test_image_grid_and_to_uint8_refuse_integer_images_that_are_not_uint8():
    with pytest.raises(ValueError, match="image_grid takes uint8 images or float images.*int64"):
        image_grid(torch.zeros(2, 3, 4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="to_uint8 takes a floating-point tensor.*int64"):
        to_uint8(torch.zeros(2, 3, 4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="to_uint8 takes a floating-point tensor.*ndarray"):
        to_uint8(np.zeros((2, 3, 4, 4)))
