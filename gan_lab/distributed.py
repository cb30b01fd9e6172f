"""Data parallelism under torchrun: the process group, the rank-0-only helpers, the mean of logged numbers.

``torchrun --nproc-per-node N -m gan_lab train --data shapes ...`` starts N copies of the program and tells
each its place through the environment: ``WORLD_SIZE`` (N), ``RANK`` (0 .. N-1) and ``LOCAL_RANK`` (the
rank on this machine, which picks the GPU). ``process_group`` turns that into an initialised
``torch.distributed`` group (NCCL between GPUs, gloo between CPU processes) and tears it down again;
``images.train_images`` trains data-parallel whenever such a group of more than one rank is up.

Everything here is a thin layer over ``torch.distributed``; nothing schedules, restarts or retries. A rank
that dies ends the run: the others fail at their next collective (or are stopped by torchrun) and the last
checkpoint, written atomically by rank 0, stays the last good state to ``--resume`` from.

``GAN_LAB_DIST_TIMEOUT`` (seconds, default 1800 as torch's own) bounds how long a rank waits for the
others at a collective before it gives up: a rank that hangs rather than dies is then reported too.
"""
from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import torch
import torch.distributed as dist

__all__ = ["World", "from_env", "current", "process_group", "backend_for", "is_main", "barrier",
           "mean_over_ranks", "any_rank", "DEFAULT_TIMEOUT_S"]

DEFAULT_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class World:
    """This process's place in a data-parallel run: ``rank`` of ``size`` processes, ``local_rank`` on
    this machine."""

    rank: int
    size: int
    local_rank: int

    @property
    def main(self) -> bool:
        """Rank 0: the one that writes checkpoints, history and logs."""
        return self.rank == 0

    def share(self, batch: int) -> slice:
        """This rank's rows of a global batch of ``batch`` = size x b rows: rows [rank b, (rank + 1) b)."""
        if batch % self.size:
            raise ValueError(f"a global batch of {batch} rows does not split evenly over {self.size} ranks")
        b = batch // self.size
        return slice(self.rank * b, (self.rank + 1) * b)


def from_env(environ: Optional[dict] = None) -> Optional[World]:
    """The ``World`` torchrun describes in the environment, or None when not launched by torchrun.

    Raises ``ValueError`` naming the variable when they are present but inconsistent."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env and "RANK" not in env:
        return None
    values = {}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        text = env.get(name, "0" if name == "LOCAL_RANK" else None)
        try:
            values[name] = int(text)
        except (TypeError, ValueError):
            raise ValueError(f"{name}={text!r} in the environment is not an integer (torchrun sets WORLD_SIZE, "
                             "RANK and LOCAL_RANK)") from None
    size, rank, local = values["WORLD_SIZE"], values["RANK"], values["LOCAL_RANK"]
    if size < 1 or not 0 <= rank < size or local < 0:
        raise ValueError(f"WORLD_SIZE={size}, RANK={rank}, LOCAL_RANK={local}: need 0 <= RANK < WORLD_SIZE")
    return World(rank, size, local)


def current() -> Optional[World]:
    """The ``World`` of the initialised process group when it has more than one rank, else None
    (no group, or a group of one: the single-process path)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return None
    local = from_env()
    return World(dist.get_rank(), dist.get_world_size(), local.local_rank if local else 0)


def backend_for(device: torch.device) -> str:
    """NCCL between CUDA devices, gloo between CPU processes."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def _timeout() -> datetime.timedelta:
    text = os.environ.get("GAN_LAB_DIST_TIMEOUT", "").strip()
    if not text:
        return datetime.timedelta(seconds=DEFAULT_TIMEOUT_S)
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"GAN_LAB_DIST_TIMEOUT={text!r} must be a positive number of seconds")
    return datetime.timedelta(seconds=seconds)


@contextlib.contextmanager
def process_group(world: World, device: torch.device) -> Iterator[World]:
    """Initialise the process group of ``world`` (from ``from_env``) for ``device`` and destroy it on exit.

    On CUDA each rank takes the GPU ``cuda:LOCAL_RANK`` (pass that device to ``train_images``)."""
    device = torch.device(device)
    timeout = _timeout()                      # checked before anything starts
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend_for(device), rank=world.rank, world_size=world.size, timeout=timeout)
    try:
        yield world
    finally:
        dist.destroy_process_group()


def is_main() -> bool:
    """True on rank 0, and in a single process."""
    w = current()
    return w is None or w.main


def barrier() -> None:
    """Wait until every rank is here (nothing in a single process)."""
    if current() is not None:
        dist.barrier()


def mean_over_ranks(values: Sequence[float], device: torch.device) -> list:
    """The mean of each number over the ranks, (1/N) sum_r v_r, in one all-reduce (a single process: as
    given). Each rank's number is a mean over its equal share of the batch, so this is the batch mean."""
    w = current()
    if w is None:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return (t / w.size).tolist()


def any_rank(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` holds on at least one rank (e.g. rank 0's ``on_log`` asked to stop)."""
    if current() is None:
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)
