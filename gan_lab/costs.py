"""What each notebook costs to run, at each budget, on each kind of device: so a student can plan a run.

Two kinds of figures are kept in ``costs.json`` beside this module:

- measurements: the wall time of the notebook run top to bottom in a fresh kernel, per kind of device and
  budget (``benchmarks/notebook_costs.py``);
- the notebook's *work* at each budget (``benchmarks/notebook_work.py``, ``gan_lab.work``): the FLOPs of
  its matrix products and convolutions F, the operators that launched a kernel D, and the host seconds H
  spent in NumPy/POT code, counted on the CPU.

Where a device has no measurement for a budget, ``report`` prints an estimate from the work, labelled as
such, with the numbers it used:

    t  ~  F / R  +  D * L  +  H

where R (FLOP/s of a large float32 matrix product) and L (seconds per dispatch of a tiny operator, host
overhead and launch together) are this device's, measured by ``calibrate`` in under a second. Small
networks on a GPU are limited by L, not by R, so the FLOP term alone would be far too optimistic.

    >>> gl.costs.report("01_minimax")        # what each chapter's first cell prints
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from .work import Work

__all__ = ["COSTS_FILE", "BUDGETS", "load", "save", "kind_of_device", "report", "seconds", "work", "DeviceRates",
           "calibrate", "rates_for", "estimate_seconds", "ESTIMATE_LABEL"]

COSTS_FILE = Path(__file__).with_name("costs.json")
BUDGETS = ("quick", "book", "full")
ESTIMATE_LABEL = "estimate from the work (FLOPs and kernel launches), not a measurement"


def load(path: Path = COSTS_FILE) -> dict:
    """``{"machines": {kind: description}, "notebooks": {name: {kind: {budget: seconds}}},
    "work": {name: {budget: {"flops", "dispatches", "host_seconds", "calls", "counted", ...}}}}``."""
    if not Path(path).exists():
        return {"machines": {}, "notebooks": {}}
    return json.loads(Path(path).read_text(encoding="utf-8"))


def save(table: dict, path: Path = COSTS_FILE) -> None:
    """Write ``table`` (the shape ``load`` returns) to ``path`` atomically: a stopped benchmark keeps the old
    file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def kind_of_device(device: Optional[torch.device] = None) -> str:
    """``"cpu"``, or ``"cuda:<GPU name>"`` / ``"mps"``: the key measurements are stored under."""
    from .settings import device as detected
    dev = device if device is not None else detected()
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return dev.type


def _check_budget(budget: str) -> None:
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")


def seconds(notebook: str, budget: str, kind: str, costs: Optional[dict] = None) -> Optional[float]:
    """The measured wall time of ``notebook`` at ``budget`` on ``kind``, or None if never measured."""
    _check_budget(budget)
    costs = load() if costs is None else costs
    return costs.get("notebooks", {}).get(notebook, {}).get(kind, {}).get(budget)


def work(notebook: str, budget: str, costs: Optional[dict] = None) -> Optional[Work]:
    """The counted work of ``notebook`` at ``budget`` (``gan_lab.work.Work``), or None if never counted."""
    _check_budget(budget)
    costs = load() if costs is None else costs
    entry = costs.get("work", {}).get(notebook, {}).get(budget)
    return None if entry is None else Work.from_dict(entry)


# ---- a device's rates, and the estimate ---------------------------------------------------------------------

@dataclass(frozen=True)
class DeviceRates:
    """What one device does per second: ``flops_per_second`` R of a large float32 matrix product, and
    ``seconds_per_dispatch`` L, the wall time of one tiny operator (Python, dispatcher and, on a GPU, the
    kernel launch). ``device`` is the kind (``kind_of_device``), ``source`` says where the numbers come from."""

    device: str
    flops_per_second: float
    seconds_per_dispatch: float
    source: str = "calibrated"

    def __post_init__(self) -> None:
        for name in ("flops_per_second", "seconds_per_dispatch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def _timed_loop(fn, dev: torch.device, seconds: float, batch: int) -> tuple[int, float]:
    """Call ``fn`` in batches of ``batch`` until ``seconds`` have passed (device synchronised): (calls, wall s)."""
    _sync(dev)
    start = time.perf_counter()
    calls = 0
    while True:
        for _ in range(batch):
            fn()
        calls += batch
        _sync(dev)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls, elapsed


def calibrate(device: Optional[torch.device] = None, *, matmul_seconds: float = 0.2,
              dispatch_seconds: float = 0.1, n: int = 1024) -> DeviceRates:
    """Measure this device's rates (about ``matmul_seconds + dispatch_seconds``, well under a second):

    - R = 2 n^3 / t for float32 (n, n) @ (n, n) products (torch's current matmul precision and threads);
    - L = t / k for k tiny operators ``x + 1`` on a one-element tensor, synchronised at the end.

    ``device`` defaults to ``settings.device()``; "cpu", "cuda" and "mps" devices are supported."""
    from .settings import resolve_device
    dev = resolve_device(device)
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"calibrate supports cpu, cuda and mps devices, got {str(dev)!r}")
    for name, value in (("matmul_seconds", matmul_seconds), ("dispatch_seconds", dispatch_seconds)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 10:
            raise ValueError(f"{name} must be a number of seconds in (0, 10], got {value!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 16:
        raise ValueError(f"n must be an integer >= 16, got {n!r}")
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g).to(dev), torch.randn(n, n, generator=g).to(dev)
    out = torch.empty(n, n, device=dev)
    torch.mm(a, b, out=out)                        # warm-up: kernels chosen, memory allocated
    calls, elapsed = _timed_loop(lambda: torch.mm(a, b, out=out), dev, matmul_seconds, 1 if dev.type == "cpu" else 8)
    rate = 2.0 * n ** 3 * calls / elapsed
    x = torch.zeros(1, device=dev)
    for _ in range(20):
        x + 1.0                                    # warm-up
    calls, elapsed = _timed_loop(lambda: x + 1.0, dev, dispatch_seconds, 200)
    return DeviceRates(kind_of_device(dev), rate, elapsed / calls, "calibrated")


_CALIBRATED: dict = {}   # one calibration per device per process: report() runs in every notebook's first cell


def rates_for(device: Optional[torch.device] = None) -> DeviceRates:
    """``calibrate(device)``, measured once per process and device, then reused."""
    from .settings import resolve_device
    dev = resolve_device(device)
    key = str(dev)
    if key not in _CALIBRATED:
        _CALIBRATED[key] = calibrate(dev)
    return _CALIBRATED[key]


def estimate_seconds(work: Work, rates: DeviceRates) -> float:
    """t = F / R + D * L + H: ``work.flops`` at ``rates.flops_per_second``, ``work.dispatches`` at
    ``rates.seconds_per_dispatch`` each, plus ``work.host_seconds``."""
    if not isinstance(work, Work):
        raise ValueError(f"work must be a gan_lab.work.Work, got {type(work).__name__}")
    if not isinstance(rates, DeviceRates):
        raise ValueError(f"rates must be a DeviceRates, got {type(rates).__name__}")
    return work.flops / rates.flops_per_second + work.dispatches * rates.seconds_per_dispatch + work.host_seconds


# ---- the report -----------------------------------------------------------------------------------------------

def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"


def _si(x: float, unit: str = "") -> str:
    """1.2e13 -> "12 T" + unit; plain below 1000."""
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= factor:
            return f"{x / factor:.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}".rstrip()


def _estimate_lines(w: Work, entry: dict, rates: DeviceRates) -> list[str]:
    t = estimate_seconds(w, rates)
    partial = "; PARTIAL: its counting run was cut off, so this is a lower bound" if entry.get("partial") else ""
    launches = _si(w.dispatches).replace(" ", "")
    return [f"about {_duration(t)}: {ESTIMATE_LABEL}",
            f"         = {_si(w.flops, 'FLOP')} / {_si(rates.flops_per_second, 'FLOP/s')}"
            f" + {launches} launches x {rates.seconds_per_dispatch * 1e6:.3g} us + {_duration(w.host_seconds)} host"
            f" (work counted {entry.get('counted', '')}; rates {rates.source} on {rates.device}{partial})"]


def report(notebook: str, *, device: Optional[torch.device] = None, costs: Optional[dict] = None,
           rates: Optional[DeviceRates] = None) -> str:
    """One line per budget: what ``notebook`` takes on this kind of device (printed, and returned).

    A budget measured on this kind of device prints the measurement; one that is not, but whose work was
    counted, prints the estimate ``estimate_seconds(work, rates)`` labelled as an estimate, with F, R, D, L
    and H; ``rates`` defaults to ``rates_for(device)`` (calibrated once per process, only when needed)."""
    from .settings import budget as current
    costs = load() if costs is None else costs
    if not isinstance(notebook, str) or not notebook:
        raise ValueError(f"notebook must be a notebook's name, got {notebook!r}")
    if rates is not None and not isinstance(rates, DeviceRates):
        raise ValueError(f"rates must be a DeviceRates or None, got {type(rates).__name__}")
    kind = kind_of_device(device)
    entries = costs.get("notebooks", {})
    counted = costs.get("work", {}).get(notebook, {})
    if notebook not in entries and not counted:   # a new notebook: say so, do not stop the reader's run
        text = f"{notebook} has not been measured yet (benchmarks/notebook_costs.py measures it)"
        print(text)
        return text
    machine = costs.get("machines", {}).get(kind)
    lines = [f"What {notebook} costs on this kind of device ({kind}"
             + (f"; measured on {machine}" if machine else "") + "):"]
    for b in BUDGETS:
        s = seconds(notebook, b, kind, costs)
        here = "  <- this run" if b == current() else ""
        if s is not None:
            lines.append(f"  {b:5s}: {_duration(s)} (measured){here}")
            continue
        elsewhere = [(k, v[b]) for k, v in entries.get(notebook, {}).items() if b in v and k != kind]
        other = "; ".join(f"{_duration(v)} on {k}" for k, v in elsewhere)
        w = work(notebook, b, costs)
        if w is None:
            lines.append(f"  {b:5s}: not measured on {kind}" + (f" (measured: {other})" if other else "") + here)
            continue
        if rates is None:
            rates = rates_for(device)
        first, second = _estimate_lines(w, counted[b], rates)
        lines.append(f"  {b:5s}: {first}{here}")
        lines.append(second)
        if other:
            lines.append(f"         (measured elsewhere: {other})")
    text = "\n".join(lines)
    print(text)
    return text
