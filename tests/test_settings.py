"""gan_lab.settings: the budget, the device and seeding."""
import os
import random

import numpy as np
import pytest
import torch

import gan_lab as gl
from gan_lab import settings


@pytest.mark.parametrize("value, expected", [("quick", "quick"), ("book", "book"), ("full", "full"),
                                             (" Quick ", "quick"), ("FULL", "full")])
def test_budget_reads_GAN_LAB_BUDGET(monkeypatch, value, expected):
    monkeypatch.setenv("GAN_LAB_BUDGET", value)
    assert settings.budget() == expected


@pytest.mark.parametrize("cuda", [True, False])
def test_budget_defaults_to_book_with_or_without_a_gpu(monkeypatch, cuda):
    monkeypatch.delenv("GAN_LAB_BUDGET", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert settings.budget() == "book"


def test_set_budget_sets_the_variable_and_refuses_a_bad_name(monkeypatch):
    monkeypatch.delenv("GAN_LAB_BUDGET", raising=False)
    assert settings.set_budget(" Full ") == "full" and settings.budget() == "full"
    assert os.environ["GAN_LAB_BUDGET"] == "full"
    with pytest.raises(ValueError, match="'huge'"):
        settings.set_budget("huge")
    assert settings.budget() == "full"


def test_bad_budget_raises_value_error_naming_it(monkeypatch):
    monkeypatch.setenv("GAN_LAB_BUDGET", "fast")
    with pytest.raises(ValueError, match="'fast'"):
        settings.budget()
    with pytest.raises(ValueError, match="'fast'"):
        settings.by_budget(quick=1, book=2, full=3)


@pytest.mark.parametrize("value, expected", [("quick", 1), ("book", 2), ("full", 3)])
def test_by_budget_picks_the_value_of_the_current_budget(monkeypatch, value, expected):
    monkeypatch.setenv("GAN_LAB_BUDGET", value)
    assert settings.by_budget(quick=1, book=2, full=3) == expected


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (True, False, "cuda"),
                                                 (False, True, "mps"), (False, False, "cpu")])
def test_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.delenv("GAN_LAB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert settings.device() == torch.device(expected)


def test_GAN_LAB_DEVICE_overrides_detection(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("GAN_LAB_DEVICE", "cpu")
    assert settings.device() == torch.device("cpu")


def test_bad_GAN_LAB_DEVICE_raises_value_error_naming_it(monkeypatch):
    monkeypatch.setenv("GAN_LAB_DEVICE", "gpu0")
    with pytest.raises(ValueError, match="'gpu0'"):
        settings.device()


def _draws():
    return random.random(), np.random.rand(3).tolist(), torch.rand(3)


def test_seed_everything_makes_python_numpy_and_torch_draws_repeat():
    settings.seed_everything(123)
    first = _draws()
    settings.seed_everything(123)
    second = _draws()
    assert first[0] == second[0] and first[1] == second[1] and torch.equal(first[2], second[2])
    settings.seed_everything(124)
    third = _draws()
    assert third[0] != first[0] and third[1] != first[1] and not torch.equal(third[2], first[2])


def test_seed_everything_returns_a_cpu_generator_seeded_with_the_seed():
    g = settings.seed_everything(7)
    assert isinstance(g, torch.Generator) and g.device == torch.device("cpu")
    assert torch.equal(torch.rand(4, generator=g), torch.rand(4, generator=torch.Generator().manual_seed(7)))


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True, None])
def test_seed_everything_rejects_non_integer_or_negative_seeds(seed):
    with pytest.raises(ValueError, match=repr(seed).replace(".", r"\.")):
        settings.seed_everything(seed)


def test_seed_offset_defaults_to_zero_and_reads_the_variable(monkeypatch):
    monkeypatch.delenv("GAN_LAB_SEED_OFFSET", raising=False)
    assert settings.seed_offset() == 0
    monkeypatch.setenv("GAN_LAB_SEED_OFFSET", "1000")
    assert settings.seed_offset() == 1000
    assert settings.shifted_seed(3) == 1003


@pytest.mark.parametrize("bad", ["-1", "1.5", "ten", str(2**62 + 1)])
def test_bad_seed_offset_raises_naming_it(monkeypatch, bad):
    monkeypatch.setenv("GAN_LAB_SEED_OFFSET", bad)
    with pytest.raises(ValueError, match=repr(bad)):
        settings.seed_offset()


def test_seed_plus_offset_past_torch_range_is_refused(monkeypatch):
    monkeypatch.setenv("GAN_LAB_SEED_OFFSET", str(2**62 - 1))
    settings.rng(2**62)  # 2**63 - 1: the largest seed torch takes
    with pytest.raises(ValueError, match="2\\*\\*63"):
        settings.rng(2**62 + 1)


def test_the_offset_shifts_every_seed_the_package_uses(monkeypatch):
    """A run at seed s with offset k is the run at seed s + k without one: data, training, sampling."""
    from gan_lab import data
    from gan_lab.train import train

    opts = dict(steps=3, width=8, depth=1, batch_size=16, log_every=3, eval_samples=50, progress=False)
    monkeypatch.setenv("GAN_LAB_SEED_OFFSET", "7")
    shifted_data = data.sample("8gaussians", 20, seed=1)
    shifted_run = train("8gaussians", seed=2, **opts)
    shifted_points = shifted_run.sample(10, seed=3)
    shifted_g = settings.rng(4).initial_seed()
    monkeypatch.delenv("GAN_LAB_SEED_OFFSET")
    plain_run = train("8gaussians", seed=9, **opts)
    assert torch.equal(shifted_data, data.sample("8gaussians", 20, seed=8))
    assert not torch.equal(shifted_data, data.sample("8gaussians", 20, seed=1))
    assert shifted_run.history["w1"] == plain_run.history["w1"]
    assert torch.equal(shifted_points, plain_run.sample(10, seed=10))
    assert shifted_g == 11


@pytest.mark.parametrize("requested", ["cuda", "cuda:0", torch.device("cuda")])
def test_a_cuda_device_without_cuda_is_refused_up_front(monkeypatch, requested):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        settings.resolve_device(requested)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        gl.train("8gaussians", steps=2, device=requested, progress=False)


def test_a_cuda_index_beyond_the_gpus_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="only 1 CUDA device"):
        settings.resolve_device("cuda:3")


def _with_reference_numerics(monkeypatch):
    for name, value in settings.REFERENCE_NUMERICS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GAN_LAB_DEVICE", "cpu")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")


def test_reference_numerics_needs_every_variable_the_cpu_path_and_the_cpu(monkeypatch):
    _with_reference_numerics(monkeypatch)
    assert settings.reference_numerics()
    monkeypatch.setenv("MKL_CBWR", "AUTO")                     # one variable off: not the reference
    assert not settings.reference_numerics()
    _with_reference_numerics(monkeypatch)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")                   # one missing
    assert not settings.reference_numerics()
    _with_reference_numerics(monkeypatch)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")  # set too late to take effect
    assert not settings.reference_numerics()
    _with_reference_numerics(monkeypatch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("GAN_LAB_DEVICE", "cuda")               # numbers computed on a GPU are never the reference
    assert not settings.reference_numerics()


def test_make_book_sets_the_reference_numerics():
    from pathlib import Path
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    line = next(l for l in makefile.splitlines() if l.startswith("REFERENCE_NUMERICS :="))
    assigned = dict(item.split("=", 1) for item in line.split(":=", 1)[1].split())
    assert assigned == settings.REFERENCE_NUMERICS
    build = next(l for l in makefile.splitlines() if "jupyter-book build" in l)
    assert build.lstrip().startswith("$(REFERENCE_NUMERICS)")


def test_the_reference_numerics_take_effect_when_set_before_torch_starts():
    import subprocess
    import sys
    env = {**os.environ, **settings.REFERENCE_NUMERICS, "GAN_LAB_DEVICE": "cpu"}
    code = "import gan_lab, torch; print(gan_lab.settings.reference_numerics(), torch.backends.cpu.get_cpu_capability())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "AVX2"]
