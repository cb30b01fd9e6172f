"""Every public training entry point refuses every bad argument before any work (issue 16).

Each entry point is called with one argument replaced by a bad value (a wrong type, a bool for a number, a
string number, zero or a negative where a positive is needed, NaN or Inf, a seed beyond torch's range,
data of the wrong shape or with NaN, an unknown name) and must raise ``ValueError`` or ``TypeError`` whose
message names the argument (and the value, where it has a short repr) before any optimizer step and before
any file is written: every optimizer's step is made to raise ``OptimizerStepped`` and the run folder and
checkpoint path point into a temporary directory that must stay empty. The same call with the good
arguments reaches an optimizer step, so the table's errors come from the bad value and not from the
set-up.
"""
import math
import re

import numpy as np
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

import gan_lab as gl
from gan_lab.images import ImageTrainConfig
from gan_lab.train import TrainConfig


class OptimizerStepped(Exception):
    """An optimizer took a step: training began."""


@pytest.fixture
def guarded(tmp_path, monkeypatch):
    """(folder that must stay empty); every optimizer step raises ``OptimizerStepped``."""
    def refuse(optimizer, args, kwargs):
        raise OptimizerStepped(type(optimizer).__name__)

    handle = register_optimizer_step_pre_hook(refuse)
    monkeypatch.setenv("GAN_LAB_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("GAN_LAB_REUSE", "1")
    monkeypatch.delenv("GAN_LAB_SEED_OFFSET", raising=False)
    yield tmp_path
    handle.remove()


# ---- the entry points, each with good arguments that reach the first optimizer step quickly -------------

def _pictures(n: int = 4, size: int = 16) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _shape_images():
    x, y = gl.data.shapes_dataset(gl.data.SHAPES_TRAIN, 3, size=16, seed=0)
    return torch.from_numpy(x), torch.from_numpy(y)


def _call_train(folder, data="8gaussians", **kw):
    return gl.train(data, **kw)


def _call_train_seeds(folder, data="8gaussians", **kw):
    return gl.train_seeds(data, **kw)


def _call_train_images(folder, images=None, **kw):
    kw.setdefault("checkpoint_path", folder / "run.pt")
    return gl.images.train_images(_pictures() if images is None else images, **kw)


def _call_fit_critic(folder, real="8gaussians", fake="25gaussians", **kw):
    return gl.lipschitz.fit_critic(real, fake, **kw)


def _call_fit_discriminator(folder, p_data="8gaussians", p_g="25gaussians", **kw):
    return gl.estimate.fit_discriminator(p_data, p_g, **kw)


def _call_wasserstein1_dual(folder, p="8gaussians", q="25gaussians", **kw):
    return gl.estimate.wasserstein1_dual(p, q, **kw)


def _call_train_classifier(folder, images=None, labels=None, **kw):
    x, y = _shape_images()
    return gl.quality.train_classifier(x if images is None else images, y if labels is None else labels, **kw)


def _call_cached_train(folder, data="8gaussians", **kw):
    return gl.runs.cached(gl.train, data, **kw)


def _call_cached_train_images(folder, images=None, **kw):
    return gl.runs.cached(gl.images.train_images, _pictures() if images is None else images, **kw)


SMALL_TOY = dict(steps=2, batch_size=8, width=8, eval_samples=0, progress=False, device="cpu")
ENTRIES = {
    "train": (_call_train, SMALL_TOY),
    "train_seeds": (_call_train_seeds, dict(SMALL_TOY, seeds=[0, 1])),
    "train_images": (_call_train_images, dict(size=16, width=8, noise_dim=8, steps=2, batch_size=2, n_critic=1,
                                              snapshots=2, progress=False, device="cpu")),
    "fit_critic": (_call_fit_critic, dict(steps=2, batch_size=8, width=8, eval_samples=8, device="cpu")),
    "fit_discriminator": (_call_fit_discriminator, dict(steps=2, batch_size=8, width=8, eval_samples=8,
                                                        device="cpu")),
    "wasserstein1_dual": (_call_wasserstein1_dual, dict(steps=2, batch_size=8, width=8, eval_samples=8,
                                                        device="cpu")),
    "train_classifier": (_call_train_classifier, dict(epochs=1, batch_size=2, width=2, num_features=4,
                                                      device="cpu")),
    "cached(train)": (_call_cached_train, SMALL_TOY),
    "cached(train_images)": (_call_cached_train_images, dict(size=16, width=8, noise_dim=8, steps=2, batch_size=2,
                                                             n_critic=1, snapshots=2, progress=False, device="cpu")),
}


# ---- bad values by the kind of argument -------------------------------------------------------------------

def _shown(value) -> str:
    """A pattern for the value as an error message shows it (its repr)."""
    return re.escape(repr(value))


POSITIVE_INT = [True, False, 0, -1, 2.0, "5", math.nan, None]
NON_NEGATIVE_INT = [True, -1, 1.5, "0", None]
SEED = NON_NEGATIVE_INT + [2**63, 2**70]
POSITIVE_NUMBER = [True, 0, 0.0, -1e-3, math.nan, math.inf, "1e-3", 1j]
NON_NEGATIVE_NUMBER = [True, -1.0, math.nan, math.inf, "10", 1j]
BETAS = [(0.5,), (0.5, 0.9, 0.99), (0.5, 1.0), (-0.1, 0.9), ("0.5", 0.9), (True, 0.9), (False, 0.9), (math.nan, 0.9),
         0.5, "0.5, 0.9"]
FLAG = [1, 0, "yes", None]
NAME = ["no-such-name", 3, None]
DEVICE = ["no-such-device", "cpux"]


def _toy_data_cases(arg: str) -> list:
    """Bad 2-D data sets for a data argument of the toy entry points."""
    nan = torch.zeros(5, 2)
    nan[3, 1] = math.nan
    return [
        (arg, "no-such-set", "no-such-set"),
        (arg, torch.zeros(0, 2), r"\(0, 2\)"),
        (arg, torch.zeros(5), r"\(5,\)"),
        (arg, torch.zeros(5, 2, 1), r"\(5, 2, 1\)"),
        (arg, nan, r"NaN or Inf.*\[3, 1\]"),
        (arg, torch.zeros(5, 2, dtype=torch.complex64), "complex64"),
        (arg, torch.zeros(5, 2, dtype=torch.bool), "bool"),
        (arg, [[0.0, 1.0], [1.0, 0.0]], "list"),
        (arg, 3, "int"),
        (arg, lambda n, g: torch.zeros(2, 2), r"returned \(2, 2\) for n = \d+"),        # ignores n
        (arg, lambda n, g: torch.full((n, 2), math.nan), "NaN or Inf"),
        (arg, lambda n, g: torch.zeros(n, 2, dtype=torch.int64), "int64"),
    ]


def _cases(arg_kinds: dict) -> list:
    """(argument, bad value, pattern) for every bad value of every argument's kind."""
    out = []
    for arg, kind in arg_kinds.items():
        for value in kind:
            out.append((arg, value, _shown(value)))
    return out


TRAIN_CONFIG_ARGS = {
    "objective": NAME[:2] + ["WGAN-GP"], "steps": POSITIVE_INT, "batch_size": POSITIVE_INT,
    "n_critic": [v for v in POSITIVE_INT if v is not None],          # None: the objective's default
    "optimizer": NAME[:2] + ["sgd"], "generator_optimizer": NAME[:2],
    "lr_g": POSITIVE_NUMBER, "lr_d": POSITIVE_NUMBER, "betas": BETAS,
    # objective-specific (None: the objective's default); the good call is WGAN-GP, so a GAN's, WGAN-clip's or
    # LSGAN's option is refused whatever its value
    "generator_loss": NAME[:2] + ["saturating"], "label_smoothing": [0.1, 0.0], "clip": POSITIVE_NUMBER + [0.01],
    "targets": [(0.0, 1.0, 1.0)], "penalty_weight": NON_NEGATIVE_NUMBER, "one_sided": FLAG[:3],
    "spectral_norm": FLAG, "instance_noise": NON_NEGATIVE_NUMBER + [None], "pack": POSITIVE_INT + [3],
    "noise_dim": POSITIVE_INT, "width": [v for v in POSITIVE_INT if v is not None],
    "depth": NON_NEGATIVE_INT, "log_every": POSITIVE_INT, "eval_samples": NON_NEGATIVE_INT,
    "snapshots": NON_NEGATIVE_INT, "seed": SEED, "progress": FLAG, "n_critic_early": NON_NEGATIVE_INT,
    "log_start": FLAG, "device": DEVICE,
}
TOY_CALL_CASES = (_cases(TRAIN_CONFIG_ARGS) + _toy_data_cases("data") + [
    ("no_such_option", 5, "no_such_option"),
    ("stepz", 5, "stepz"),
    ("config", "wgan-gp", "config.*'wgan-gp'"),
    ("config", ImageTrainConfig(), "config.*ImageTrainConfig"),
    ("on_log", 3, "on_log.*3"),
])

IMAGE_CONFIG_ARGS = {
    "size": [16.0, 17, True, "16", None], "width": POSITIVE_INT, "kind": NAME, "critic_norm": NAME + ["batch"],
    "noise_dim": POSITIVE_INT, "steps": POSITIVE_INT, "batch_size": POSITIVE_INT + [1], "n_critic": POSITIVE_INT,
    "penalty_weight": NON_NEGATIVE_NUMBER, "lr": POSITIVE_NUMBER, "betas": BETAS, "seed": SEED,
    "objective": NAME[:2] + ["WGAN-GP"], "one_sided": FLAG[:3], "clip": [0.01], "generator_loss": ["saturating"],
    "label_smoothing": [0.1], "targets": [(0.0, 1.0, 1.0)],
    "log_every": POSITIVE_INT, "snapshots": NON_NEGATIVE_INT, "sample_every": POSITIVE_INT,
    "checkpoint_every": NON_NEGATIVE_INT, "amp": [1, 0, 1.0, "yes", None, "float64"], "progress": FLAG,
    "device": DEVICE,
}


def _image_cases() -> list:
    nan = _pictures()
    nan[1, 2, 3, 4] = math.nan
    return _cases(IMAGE_CONFIG_ARGS) + [
        ("images", torch.zeros(4, 3, 8, 8), r"\(4, 3, 8, 8\)"),
        ("images", torch.zeros(0, 3, 16, 16), r"\(0, 3, 16, 16\)"),
        ("images", torch.zeros(4, 16, 16, 3), r"\(4, 16, 16, 3\)"),
        ("images", nan, r"NaN or Inf.*\[1, 2, 3, 4\]"),
        ("images", torch.full((4, 3, 16, 16), 2.0), r"\[-1, 1\]"),
        ("images", torch.zeros(4, 3, 16, 16, dtype=torch.uint8), "uint8"),
        ("images", np.zeros((4, 3, 16, 16), dtype=np.float32), "ndarray"),
        ("resume", "yes", "resume.*'yes'"),
        ("resume", 1, "resume.*1"),
        ("stepz", 5, "stepz"),
        ("config", TrainConfig(), "config.*TrainConfig"),
        ("on_log", 3, "on_log.*3"),
    ]


def _image_path_cases() -> list:
    """Checkpoint targets that cannot take a file (train, train_seeds and train_images; cached refuses
    checkpoint_path)."""
    return [
        ("checkpoint_path", 3, "checkpoint_path.*3"),
        ("checkpoint_path", "/no/such/folder/run.pt", "checkpoint_path.*/no/such/folder"),
        ("checkpoint_path", "FOLDER", "checkpoint_path.*is a directory"),
        ("resume", True, "resume"),   # with checkpoint_path=None, below
    ]


CRITIC_ARGS = {
    "steps": POSITIVE_INT[:-1], "batch_size": POSITIVE_INT[:-1], "width": POSITIVE_INT[:-1],
    "depth": NON_NEGATIVE_INT[:-1], "eval_samples": POSITIVE_INT[:-1] , "seed": SEED[:-1] + [2**63, 2**70],
    "device": DEVICE,
}
FIT_CRITIC_CASES = (_cases({**CRITIC_ARGS, "constraint": NAME, "clip": POSITIVE_NUMBER + [None],
                            "penalty_weight": NON_NEGATIVE_NUMBER + [None], "one_sided": FLAG,
                            "lr": POSITIVE_NUMBER, "betas": BETAS})
                    + _toy_data_cases("real") + _toy_data_cases("fake")
                    + [("critic", 3, "critic.*int"), ("fake", "gaussian1d", "1-D"),
                       ("one_sided", True, "one_sided.*penalty")])   # with constraint="clip", below
DISCRIMINATOR_CASES = (_cases({**CRITIC_ARGS, "lr": POSITIVE_NUMBER + [None]})
                       + _toy_data_cases("p_data") + _toy_data_cases("p_g")
                       + [("discriminator", 3, "discriminator.*int"), ("p_g", "gaussian1d", "1-D")])
DUAL_CASES = (_cases({**CRITIC_ARGS, "lr": POSITIVE_NUMBER + [None], "betas": BETAS,
                      "penalty_weight": NON_NEGATIVE_NUMBER + [None]})
              + _toy_data_cases("p") + _toy_data_cases("q")
              + [("critic", 3, "critic.*int"), ("q", "gaussian1d", "1-D")])


def _classifier_cases() -> list:
    x, y = _shape_images()
    nan = x.float() / 127.5 - 1
    nan = nan.permute(0, 3, 1, 2).contiguous()
    nan[0, 0, 0, 0] = math.nan
    return _cases({"epochs": POSITIVE_INT[:-1], "batch_size": POSITIVE_INT[:-1], "lr": POSITIVE_NUMBER,
                   "seed": SEED[:-1] + [2**63], "width": POSITIVE_INT[:-1], "num_features": POSITIVE_INT[:-1],
                   "n_classes": [True, 0, -1, 1.5, "2", 1], "size": [32, True, "16", 15.5], "device": DEVICE}) + [
        ("images", nan, "images contains NaN or Inf"),
        ("images", torch.zeros(6, 16, 16, 3), r"\(6, 16, 16, 3\)"),
        ("images", x[:, :8], "images must be square, got 8x16"),
        ("images", [[0]], "list"),
        ("labels", y.float(), "labels must be integers.*float32"),
        ("labels", y.bool(), "labels must be integers.*bool"),
        ("labels", y[:3], r"labels must have shape \(6,\)"),
        ("labels", -y - 1, "labels must be non-negative"),
        ("labels", ["a"] * 6, "labels"),
        ("labels", "000111", "labels"),
    ]


TABLE = (
    [("train", *c) for c in TOY_CALL_CASES]
    + [("train", "generator", 3, "generator must be a torch.nn.Module or None, got int"),
       ("train", "critic", "mlp", "critic must be a torch.nn.Module or None, got str"),
       ("cached(train)", "critic", torch.nn.Linear(2, 1), "cannot cache a call with critic=Linear")]
    + [("train_seeds", *c) for c in TOY_CALL_CASES if c[0] != "seed"]
    + [("train_seeds", "seeds", v, p) for v, p in [
        ([], r"seeds.*\[\]"), ([True], "seeds.*True"), ([-1], "seeds.*-1"), ([1.5], "seeds.*1.5"),
        ([2**63], "seeds.*9223372036854775808"), ([1, 1], r"seeds.*distinct.*\[1, 1\]"), (5, "seeds.*5"),
        ("01", "seeds.*'01'"), (None, "seeds.*None"), ([0, "1"], "seeds.*'1'")]]
    + [(entry, *c) for entry in ("train", "train_seeds") for c in _image_path_cases() + [
        ("resume", "yes", "resume.*'yes'"), ("resume", 1, "resume.*1"),
        ("checkpoint_seconds", -1.0, "checkpoint_seconds.*-1"), ("checkpoint_seconds", "60", "checkpoint_seconds.*'60'"),
        ("checkpoint_seconds", math.nan, "checkpoint_seconds.*nan")]]
    + [("cached(train)", "checkpoint_path", "run.pt", "checkpoint_path"), ("cached(train)", "resume", True, "resume")]
    + [("train_images", *c) for c in _image_cases() + _image_path_cases()]
    + [("fit_critic", *c) for c in FIT_CRITIC_CASES]
    + [("fit_discriminator", *c) for c in DISCRIMINATOR_CASES]
    + [("wasserstein1_dual", *c) for c in DUAL_CASES]
    + [("train_classifier", *c) for c in _classifier_cases()]
    + [("cached(train)", *c) for c in TOY_CALL_CASES if not callable(c[1])]   # a callable has no key: below
    + [("cached(train)", "data", lambda n, g: torch.zeros(n, 2), "data.*function")]
    + [("cached(train_images)", *c) for c in _image_cases()]
    + [("cached(train_images)", "checkpoint_path", "run.pt", "checkpoint_path")]
)


def _id(case) -> str:
    entry, arg, value, _ = case
    shown = repr(value) if not isinstance(value, (torch.Tensor, np.ndarray)) else \
        f"{type(value).__name__}{tuple(value.shape)}"
    return f"{entry}-{arg}={shown[:40]}"


def _run(entry: str, folder, arg=None, value=None):
    call, good = ENTRIES[entry]
    kwargs = dict(good)
    if arg is not None:
        kwargs[arg] = folder if isinstance(value, str) and value == "FOLDER" else value
    if entry == "fit_critic" and (arg, value) == ("one_sided", True):
        kwargs["constraint"] = "clip"
    if entry in ("train_images", "train", "train_seeds") and (arg, value) == ("resume", True):
        kwargs["checkpoint_path"] = None
    return call(folder, **kwargs)


@pytest.mark.parametrize("entry", ENTRIES)
def test_the_good_arguments_reach_an_optimizer_step(entry, guarded):
    with pytest.raises(OptimizerStepped):
        _run(entry, guarded)


@pytest.mark.parametrize("case", TABLE, ids=[_id(c) for c in TABLE])
def test_a_bad_argument_is_refused_by_name_before_any_step_or_file(case, guarded):
    entry, arg, value, pattern = case
    with pytest.raises((ValueError, TypeError)) as info:
        _run(entry, guarded, arg, value)
    message = str(info.value)
    names_it = re.search(rf"(?<![\w.]){re.escape(arg)}(?!\w)", message) is not None
    assert names_it or arg in ("no_such_option", "stepz"), f"the error does not name {arg!r}: {message}"
    assert re.search(pattern, message, flags=re.S), f"the error does not show {pattern!r}: {message}"
    assert list(guarded.iterdir()) == [], f"files were written: {list(guarded.iterdir())}"


# ---- numbers into pictures: no NaN or Inf is drawn as a pixel, a bin or nothing at all --------------------

@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_every_function_that_turns_numbers_into_a_picture_refuses_non_finite_values(bad, guarded):
    import matplotlib.pyplot as plt

    images = torch.zeros(2, 3, 4, 4)
    images[1, 0, 2, 1] = bad
    points = torch.zeros(6, 2)
    points[4, 1] = bad
    scores, labels = torch.tensor([0.0, 1.0, bad, 2.0]), torch.tensor([0, 0, 1, 1])
    fig, ax = plt.subplots()
    try:
        for name, draw in [("to_images", lambda: gl.data.to_images(images)),
                           ("to_uint8", lambda: gl.images.to_uint8(images)),
                           ("image_grid", lambda: gl.images.image_grid(images)),
                           ("density", lambda: gl.plots.density(ax, points)),
                           ("ridge", lambda: gl.plots.ridge(ax, scores, labels))]:
            with pytest.raises(ValueError, match=r"NaN or Inf") as info:
                draw()
            assert re.search(r"\b1\b.* of (96|12|4) values", str(info.value)), f"{name}: {info.value}"
        assert not ax.images and not ax.collections      # nothing was drawn
    finally:
        plt.close(fig)


# ---- a user's network that does not fit the data: refused by name before any step ------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: gl.train("8gaussians", steps=2, progress=False, generator=torch.nn.Linear(3, 2)),
     r"generator does not take inputs of shape \(n, 2\)"),
    (lambda: gl.train("8gaussians", steps=2, progress=False, generator=torch.nn.Linear(2, 3)),
     r"generator maps inputs of shape \(2, 2\) to \(2, 3\), expected \(2, 2\)"),
    (lambda: gl.train("8gaussians", steps=2, progress=False, critic=torch.nn.Linear(2, 4)),
     r"critic maps inputs of shape \(2, 2\) to \(2, 4\)"),
    (lambda: gl.lipschitz.fit_critic(torch.randn(64, 2), torch.randn(64, 2), steps=2, critic=torch.nn.Linear(5, 1)),
     r"critic does not take inputs of shape \(n, 2\)"),
    (lambda: gl.estimate.wasserstein1_dual(torch.randn(64, 2), torch.randn(64, 2), steps=2,
                                           critic=torch.nn.Linear(2, 2)), r"critic maps"),
    (lambda: gl.estimate.fit_discriminator(torch.randn(64, 1), torch.randn(64, 1), steps=2,
                                           discriminator=torch.nn.Linear(2, 1)), r"discriminator does not take"),
])
def test_a_network_that_does_not_fit_is_refused_before_any_step(call, match, monkeypatch):
    def no_step(self, *args, **kwargs):
        raise AssertionError("an optimizer step ran before the bad network was refused")
    monkeypatch.setattr(torch.optim.Optimizer, "step", no_step)
    with pytest.raises(ValueError, match=match):
        call()


def test_the_fit_probe_leaves_a_network_as_it_was():
    net = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    state = torch.random.get_rng_state()
    gl.nets.check_fits("critic", net, 2, [(2, 1)], torch.device("cpu"))
    assert net.training and torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
