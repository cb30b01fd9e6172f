"""The package's only global state: the compute budget, the device, and seeding.

Every experiment in the book is sized by a *budget*:

- ``quick``: each notebook runs in seconds on 2 CPU cores (CI);
- ``book``: each chapter runs in minutes on a laptop CPU and still shows the phenomenon;
- ``full``: the papers' settings, meant for a GPU.

The budget comes from the environment variable ``GAN_LAB_BUDGET``; without it the default is
``full`` when a GPU is present and ``book`` otherwise.
"""
from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np
import torch

BUDGETS = ("quick", "book", "full")
T = TypeVar("T")


def _gpu_present() -> bool:
    return torch.cuda.is_available() or (
        hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    )


def budget() -> str:
    """The current budget: ``GAN_LAB_BUDGET`` if set, else ``full`` with a GPU, else ``book``."""
    value = os.environ.get("GAN_LAB_BUDGET", "").strip().lower()
    if not value:
        return "full" if _gpu_present() else "book"
    if value not in BUDGETS:
        raise ValueError(
            f"GAN_LAB_BUDGET={os.environ['GAN_LAB_BUDGET']!r} is not a budget; use one of {BUDGETS}"
        )
    return value


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
        return torch.device(requested)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={requested!r} is not a torch device") from err


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's global generators with ``seed``.

    Returns a fresh CPU ``torch.Generator`` seeded with ``seed`` for code that prefers an
    explicit generator. On the CPU the same seed gives the same results.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
