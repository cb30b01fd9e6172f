"""What each notebook costs to run, at each budget, on each kind of device: so a student can plan a run.

The figures are measurements, kept in ``costs.json`` beside this module and written by
``benchmarks/notebook_costs.py`` (which runs every notebook top to bottom in a fresh kernel and records its
wall time). Each entry says where it was measured. A budget or device with no measurement is reported as
such, never guessed.

    >>> gl.costs.report("01_minimax")        # what each chapter's first cell prints
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import torch

__all__ = ["COSTS_FILE", "load", "kind_of_device", "report", "seconds"]

COSTS_FILE = Path(__file__).with_name("costs.json")
BUDGETS = ("quick", "book", "full")


def load(path: Path = COSTS_FILE) -> dict:
    """``{"machines": {kind: description}, "notebooks": {name: {kind: {budget: seconds}}}}``."""
    if not Path(path).exists():
        return {"machines": {}, "notebooks": {}}
    return json.loads(Path(path).read_text(encoding="utf-8"))


def kind_of_device(device: Optional[torch.device] = None) -> str:
    """``"cpu"``, or ``"cuda:<GPU name>"`` / ``"mps"``: the key measurements are stored under."""
    from .settings import device as detected
    dev = device if device is not None else detected()
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return dev.type


def seconds(notebook: str, budget: str, kind: str, costs: Optional[dict] = None) -> Optional[float]:
    """The measured wall time of ``notebook`` at ``budget`` on ``kind``, or None if never measured."""
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {BUDGETS}, got {budget!r}")
    costs = load() if costs is None else costs
    return costs.get("notebooks", {}).get(notebook, {}).get(kind, {}).get(budget)


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"


def report(notebook: str, *, device: Optional[torch.device] = None, costs: Optional[dict] = None) -> str:
    """One line per budget: what ``notebook`` takes on this kind of device (printed, and returned)."""
    from .settings import budget as current
    costs = load() if costs is None else costs
    kind = kind_of_device(device)
    entries = costs.get("notebooks", {})
    if not isinstance(notebook, str) or not notebook:
        raise ValueError(f"notebook must be a notebook's name, got {notebook!r}")
    if notebook not in entries:   # a new notebook: say so, do not stop the reader's run
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
        else:
            elsewhere = [(k, v[b]) for k, v in entries[notebook].items() if b in v and k != kind]
            other = "; ".join(f"{_duration(v)} on {k}" for k, v in elsewhere)
            lines.append(f"  {b:5s}: not measured on {kind}" + (f" (measured: {other})" if other else "") + here)
    text = "\n".join(lines)
    print(text)
    return text
