"""The package's only global state: the compute budget, the device, and seeding.

Every experiment in the book is sized by a *budget*:

- ``quick``: each notebook runs in seconds on 2 CPU cores (CI);
- ``book``: each chapter runs in minutes on a laptop CPU and still shows the phenomenon;
- ``full``: the papers' settings, meant for a GPU.

The budget comes from the environment variable ``GAN_LAB_BUDGET`` (or ``set_budget``); without it the
default is ``book`` on every device, a GPU included: ``full`` is always chosen by name.

Seeds: every seed that gan_lab turns into random state (``rng``, ``seed_everything``, and through them
the seeds of ``train``, ``data.sample``, ``images.train_images`` ...) is shifted by ``seed_offset()``,
read from ``GAN_LAB_SEED_OFFSET`` (default 0). With the default nothing changes; building the book with
another offset re-runs every chapter on other seeds, so a claim the text makes is checked on runs it was
not tuned on.
"""
from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np
import torch

BUDGETS = ("quick", "book", "full")
T = TypeVar("T")


def budget() -> str:
    """The current budget: ``GAN_LAB_BUDGET`` if set (``set_budget`` sets it), else ``book``, on every device.

    A GPU does not change the default: ``full`` trains at the papers' scale (an hour or more per chapter
    even on a GPU), so it is always asked for by name.
    """
    value = os.environ.get("GAN_LAB_BUDGET", "").strip().lower()
    if not value:
        return "book"
    if value not in BUDGETS:
        raise ValueError(
            f"GAN_LAB_BUDGET={os.environ['GAN_LAB_BUDGET']!r} is not a budget; use one of {BUDGETS}"
        )
    return value


def set_budget(name: str) -> str:
    """Choose the budget for this process (and the processes it starts), e.g. ``set_budget("full")`` in a
    notebook's first cell. Returns it. It sets ``GAN_LAB_BUDGET``, so ``budget()`` and subprocesses agree."""
    if not isinstance(name, str) or name.strip().lower() not in BUDGETS:
        raise ValueError(f"budget {name!r} is not a budget; use one of {BUDGETS}")
    os.environ["GAN_LAB_BUDGET"] = name.strip().lower()
    return budget()


def by_budget(*, quick: T, book: T, full: T) -> T:
    """Pick the value for the current budget, e.g. ``steps = by_budget(quick=100, book=3000, full=20000)``."""
    return {"quick": quick, "book": book, "full": full}[budget()]


def device() -> torch.device:
    """The device experiments run on: CUDA if present, then Apple's MPS, then the CPU.

    ``GAN_LAB_DEVICE`` (e.g. ``cpu``) overrides the detection.
    """
    forced = os.environ.get("GAN_LAB_DEVICE", "").strip()
    if forced:
        try:
            return torch.device(forced)
        except RuntimeError as err:
            raise ValueError(f"GAN_LAB_DEVICE={forced!r} is not a torch device") from err
    if torch.cuda.is_available():
        return torch.device("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(requested: "str | torch.device | None" = None) -> torch.device:
    """``requested`` as a ``torch.device``; ``None`` means the detected ``device()``."""
    if requested is None:
        return device()
    try:
        dev = torch.device(requested)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={requested!r} is not a torch device") from err
    # refused here, not later inside torch ("Torch not compiled with CUDA enabled", an AssertionError)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={requested!r}: this machine has no CUDA GPU torch can use "
                         f"(torch {torch.__version__}); use 'cpu' or leave device unset")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device={requested!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    if dev.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ValueError(f"device={requested!r}: MPS is not available on this machine")
    return dev


# The CPU numerics the book's quoted numbers were measured with. A float32 training run is chaotic: the
# same code and seed end on other digits where the CPU takes another code path (torch's kernels for AVX-512
# instead of AVX2; MKL's and oneDNN's kernels, which also differ between Intel and AMD). These variables,
# read when torch starts, hold every x86 CPU to the AVX2 path; `make book` sets them. They bring two CPUs'
# runs close but not always to the same bits (an AVX-512 Xeon and an AMD EPYC, both pinned, differ in the last
# digits of chapter 6's FIDs, and a chaotic run of chapters 5 and 8 can end elsewhere), so a quoted outcome
# that moved between the CI machines is quoted, and checked, as the range they gave.
REFERENCE_NUMERICS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def reference_numerics() -> bool:
    """Does this process compute on the CPU with the book's reference numerics (``REFERENCE_NUMERICS`` set
    before torch started, and torch on its AVX2 kernels)? The chapters assert the numbers their text quotes
    only then (and at the book budget, seed offset 0); their claims in general form are asserted everywhere."""
    if device().type != "cpu":
        return False
    if any(os.environ.get(k, "").strip() != v for k, v in REFERENCE_NUMERICS.items()):
        return False
    return torch.backends.cpu.get_cpu_capability() == "AVX2"


def numerics() -> str:
    """What sets the last bits of a run in this process: the device (a CUDA GPU by its name) and, on the CPU,
    the kernel path torch took (``torch.backends.cpu.get_cpu_capability()``) with the ``REFERENCE_NUMERICS``
    variables as they are. Part of every cached run's key (``runs.run_key``): a run trained under other
    numerics is not loaded into a process whose bit-exact checks would tell the two apart."""
    dev = device()
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    if dev.type != "cpu":
        return dev.type
    pinned = ",".join(f"{k}={os.environ.get(k, '').strip()}" for k in sorted(REFERENCE_NUMERICS))
    return f"cpu:{torch.backends.cpu.get_cpu_capability()};{pinned}"


SEED_LIMIT = 2**63 - 1   # torch's generators take seeds below 2**63


def seed_offset() -> int:
    """The shift added to every seed: ``GAN_LAB_SEED_OFFSET`` (a non-negative integer), default 0."""
    raw = os.environ.get("GAN_LAB_SEED_OFFSET", "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0 or value > SEED_LIMIT // 2:
        raise ValueError(f"GAN_LAB_SEED_OFFSET={os.environ['GAN_LAB_SEED_OFFSET']!r} is not a non-negative integer "
                         f"below 2**62")
    return value


def shifted_seed(seed: int) -> int:
    """``seed + seed_offset()``: the seed that actually feeds the random state (checked to be valid)."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    shifted = int(seed) + seed_offset()
    if shifted > SEED_LIMIT:
        raise ValueError(f"seed {seed!r} plus the seed offset {seed_offset()} is >= 2**63, too large for torch")
    return shifted


def rng(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed + seed_offset()``: the one way gan_lab makes one."""
    return torch.Generator().manual_seed(shifted_seed(seed))


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's global generators with ``seed + seed_offset()``.

    Returns a fresh CPU ``torch.Generator`` seeded the same way, for code that prefers an
    explicit generator. On the CPU the same seed (and offset) gives the same results.
    """
    seed = shifted_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


# ---- named random streams ---------------------------------------------------------------------------------
# A run seeded with s draws its training randomness (batches, z, eps) from ``rng(s)``. Whatever is drawn for
# *looking at* the run comes from its own stream, so that evaluating more or less often never shifts what
# training draws. One table says which stream is which; nothing else writes ``seed + 20_000``.
STREAMS = {
    "train": 0,              # real batches, noise z and interpolation weights eps, in the loop's order
    "eval_real": 10_000,     # the fixed real evaluation set (W1 at each log; held-out points of an estimator)
    "eval_noise": 20_000,    # z for the generated evaluation set at a log: stream eval_noise + step
    "snapshot_noise": 30_000,  # the fixed z whose G(z) is kept at each log (samples over time)
    "probe": 40_000,         # points at which a notebook probes a trained critic (chapter 5's norms)
    "probe_noise": 50_000,   # z for the generated points of such a probe
    "captions": 60_000,      # the pool of captions a text-conditioned run trains on (text_to_image)
}


def stream(seed: int, name: str, step: int = 0) -> torch.Generator:
    """The CPU generator of stream ``name`` (a key of ``STREAMS``) of the run seeded ``seed``, at ``step``:
    ``rng(seed + STREAMS[name] + step)``. ``step`` is for streams drawn afresh at each log (``eval_noise``)."""
    if name not in STREAMS:
        raise ValueError(f"unknown random stream {name!r}; known: {', '.join(STREAMS)}")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    return rng(seed + STREAMS[name] + step)
