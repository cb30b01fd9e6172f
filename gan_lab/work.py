"""The work a computation does, counted: floating-point operations, kernel launches, host seconds.

    with work.count() as counter:
        gl.train("8gaussians", steps=10, progress=False)
    counter.total          # Work(flops=..., dispatches=..., host_seconds=0.0)

Three numbers, because three different things limit a run:

- ``flops``: 2 per multiply-add of every matrix product and convolution, forward and backward, by the
  formulas of ``torch.utils.flop_counter`` (``FlopCounterMode``'s table; elementwise operations count 0).
  A large network on a GPU is limited by these.
- ``dispatches``: the operators that ran a kernel, one per aten operator that reaches torch's dispatcher,
  without views and bare allocations (which launch none). A GPU launches about one kernel per dispatch, and
  each launch costs microseconds of host time however small the kernel, so the toy MLPs of this book are
  limited by these, not by their FLOPs.
- ``host_seconds``: wall time spent in code marked with ``counter.host()``, e.g. exact optimal transport in
  NumPy/POT, which runs on the CPU whatever the device; ``host_calls`` counts those blocks (a count
  extrapolates exactly where a difference of two timings would not).

``gan_lab.costs`` turns a ``Work`` into seconds on a device; ``benchmarks/notebook_work.py`` counts the work
of every notebook.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Iterator, Union

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

__all__ = ["Work", "Counter", "count", "launches_kernel"]

_aten = torch.ops.aten
# Operators that run no kernel: allocations without a fill, and shape/metadata queries.
_NO_KERNEL = {_aten.empty.memory_format, _aten.empty_like.default, _aten.empty_strided.default,
              _aten.new_empty.default, _aten.new_empty_strided.default, _aten.resize_.default,
              _aten.set_.source_Storage,
              _aten.set_.source_Storage_storage_offset, _aten.set_.source_Tensor, _aten.set_.default,
              _aten.lift_fresh.default, _aten.is_same_size.default, _aten.size.default, _aten.stride.default,
              _aten.numel.default, _aten.dim.default, _aten.sym_size.default, _aten.sym_stride.default,
              _aten.sym_numel.default, _aten.storage_offset.default, _aten.is_contiguous.default,
              _aten.is_contiguous.memory_format, torch.ops.prim.device.default, torch.ops.prim.layout.default}


def launches_kernel(op: torch._ops.OpOverload) -> bool:
    """Whether the aten operator ``op`` runs a kernel: not a view (``op.is_view``), not an in-place view
    (``t_``, ``unsqueeze_``...), not a bare allocation or a metadata query."""
    return not (getattr(op, "is_view", False) or torch.Tag.inplace_view in getattr(op, "tags", ())
                or op in _NO_KERNEL)


@dataclass(frozen=True)
class Work:
    """What a computation does: ``flops`` (2 per multiply-add of matrix products and convolutions),
    ``dispatches`` (operators that ran a kernel), ``host_seconds`` (marked host-side work, measured) and
    ``host_calls`` (how many marked blocks). Works add, subtract and scale (``w * 3``, ``w / 2``), so per-step
    work can be extrapolated."""

    flops: float = 0.0
    dispatches: float = 0.0
    host_seconds: float = 0.0
    host_calls: float = 0.0

    def _map(self, other: "Work", op) -> "Work":
        return Work(op(self.flops, other.flops), op(self.dispatches, other.dispatches),
                    op(self.host_seconds, other.host_seconds), op(self.host_calls, other.host_calls))

    def __add__(self, other: "Work") -> "Work":
        return self._map(other, lambda a, b: a + b) if isinstance(other, Work) else NotImplemented

    def __sub__(self, other: "Work") -> "Work":
        return self._map(other, lambda a, b: a - b) if isinstance(other, Work) else NotImplemented

    def __mul__(self, factor: Union[int, float]) -> "Work":
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            return NotImplemented
        return self._map(self, lambda a, _: a * factor)

    __rmul__ = __mul__

    def __truediv__(self, divisor: Union[int, float]) -> "Work":
        if isinstance(divisor, bool) or not isinstance(divisor, (int, float)) or divisor == 0:
            raise ValueError(f"a Work can only be divided by a non-zero number, got {divisor!r}")
        return self._map(self, lambda a, _: a / divisor)

    def rounded(self) -> "Work":
        """Whole FLOPs, dispatches and host calls (an extrapolation can leave fractions), host seconds to 1 ms."""
        return Work(float(round(self.flops)), float(round(self.dispatches)), round(self.host_seconds, 3),
                    float(round(self.host_calls)))

    def as_dict(self) -> dict:
        """``{"flops": int, "dispatches": int, "host_seconds": float, "host_calls": int}`` for JSON."""
        r = self.rounded()
        return {"flops": int(r.flops), "dispatches": int(r.dispatches), "host_seconds": r.host_seconds,
                "host_calls": int(r.host_calls)}

    @classmethod
    def from_dict(cls, entry: dict) -> "Work":
        """The inverse of ``as_dict``; the host entries may be missing (0). Bad entries raise ``ValueError``."""
        if not isinstance(entry, dict):
            raise ValueError(f"a work entry must be a dict with flops and dispatches, got {entry!r:.80}")
        values = {}
        for key in ("flops", "dispatches", "host_seconds", "host_calls"):
            v = entry.get(key, 0.0 if key.startswith("host") else None)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0 or v == float("inf"):
                raise ValueError(f"work entry {key} must be a finite number >= 0, got {v!r}")
            values[key] = float(v)
        return cls(**values)


class _Counting(TorchDispatchMode):
    """Runs each operator as it would have run, and counts it: a dispatch if it launches a kernel, and its
    FLOPs by ``FlopCounterMode``'s table, with the same totals (tested). ``FlopCounterMode`` itself is not
    used: its module tracker makes the image loop's gradient penalty (``autograd.grad`` with
    ``create_graph``) fail in torch 2.13 ("A leaf node was passed to _will_engine_execute_node"), and it tries
    to decompose every operator missing from its table, which makes a toy training step several times
    slower; below autograd, where this mode sits, the operators that matter are in the table."""

    def __init__(self, counter: "Counter") -> None:
        super().__init__()
        self.counter = counter

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if launches_kernel(func):
            self.counter._dispatches += 1
            flops = flop_registry.get(getattr(func, "_overloadpacket", None))
            if flops is not None:
                self.counter._flops += int(flops(*args, **kwargs, out_val=out))
        return out


class Counter:
    """The running count of ``count()``: ``total`` now, ``host()`` to mark host work, ``excluded()`` to
    leave a block out of the count (its operators still run)."""

    def __init__(self) -> None:
        self._mode = _Counting(self)
        self._flops = 0
        self._dispatches = 0
        self._host = 0.0
        self._host_calls = 0
        self._hosting = 0
        self._excluded = Work()
        self._active = False

    @property
    def counting(self) -> bool:
        """Whether the counter is counting now (between ``start`` and ``stop``)."""
        return self._active

    @property
    def total(self) -> Work:
        """The work counted so far (excluded blocks left out)."""
        return Work(float(self._flops), float(self._dispatches), self._host, float(self._host_calls)) - self._excluded

    @contextlib.contextmanager
    def host(self) -> Iterator[None]:
        """Add the wall time of the block to ``host_seconds``, and 1 to ``host_calls`` (a block inside another
        one counts once)."""
        self._hosting += 1
        start = time.perf_counter()
        try:
            yield
        finally:
            self._hosting -= 1
            if self._hosting == 0:
                self._host += time.perf_counter() - start
                self._host_calls += 1

    def add(self, work: Work) -> None:
        """Add ``work`` that did not run here (e.g. that of an earlier call of the same size)."""
        if not isinstance(work, Work):
            raise ValueError(f"work must be a Work, got {type(work).__name__}")
        self._excluded = self._excluded - work

    @contextlib.contextmanager
    def excluded(self) -> Iterator[None]:
        """Run the block without counting it (e.g. a calibration the notebook's own cell triggers)."""
        before = self.total
        try:
            yield
        finally:
            after = self.total
            self._excluded = self._excluded + (after - before)

    def start(self) -> "Counter":
        """Begin counting every operator from now on (``count()`` does this for a block)."""
        if self._active:
            raise ValueError("this counter is already counting")
        self._mode.__enter__()
        self._active = True
        return self

    def stop(self) -> Work:
        """Stop counting; returns ``total``."""
        if not self._active:
            raise ValueError("this counter is not counting")
        self._mode.__exit__(None, None, None)
        self._active = False
        return self.total


@contextlib.contextmanager
def count() -> Iterator[Counter]:
    """Count the work of the block: ``with count() as c: ...`` then ``c.total``."""
    counter = Counter().start()
    try:
        yield counter
    finally:
        counter.stop()
