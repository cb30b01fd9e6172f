"""Measure what each notebook of the book costs to run, and record it in gan_lab/costs.json.

Each notebook (every page of _toc.yml that is a notebook) runs top to bottom in a fresh kernel at each
budget asked for, one at a time; its wall time is stored under this machine's kind of device
(``gl.costs.kind_of_device()``: "cpu", or "cuda:<GPU name>"), with a description of the machine. Entries
for other budgets, devices and notebooks are kept. Each chapter's first cell prints them
(``gl.costs.report``).

    python benchmarks/notebook_costs.py --budgets quick book [--only 01_minimax ...] [--machine "2-core CI"]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from classroom.build import book_notebooks  # noqa: E402
from gan_lab import costs  # noqa: E402


def run(path: Path, budget: str, allow_errors: bool = False) -> float:
    env = dict(os.environ, GAN_LAB_BUDGET=budget, GAN_LAB_REUSE="0")
    with tempfile.TemporaryDirectory() as tmp:
        env["GAN_LAB_RUN_DIR"] = tmp
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jupyter", "execute", "--timeout=-1",
                        *(["--allow-errors"] if allow_errors else []), "--output",
                        str(Path(tmp) / path.name), str(path)], check=True, env=env, cwd=path.parent,
                       capture_output=True)
        return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budgets", nargs="+", default=["quick"], choices=list(costs.BUDGETS))
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--allow-errors", action="store_true",
                    help="time a notebook even where a check cell fails (the work is the same; say so in the note)")
    ap.add_argument("--machine", help="how to describe this machine (default: CPU model and core count)")
    args = ap.parse_args()
    kind = costs.kind_of_device()
    table = costs.load()
    cpu = platform.processor() or platform.machine()
    machine = args.machine or (f"{os.cpu_count()} cores ({cpu}), torch {torch.__version__}, "
                               f"{datetime.date.today().isoformat()}")
    table.setdefault("machines", {})[kind] = machine
    failed: list[str] = []
    for path in book_notebooks():
        if args.only and path.stem not in args.only:
            continue
        for budget in args.budgets:
            try:
                seconds = run(path, budget, args.allow_errors)
            except subprocess.CalledProcessError as err:   # a failing notebook is reported, not timed
                failed.append(f"{path.stem} at {budget}")
                print(f"{path.stem:24s} {budget:5s} FAILED: {err.stderr.decode(errors='replace')[-600:]}", flush=True)
                continue
            table.setdefault("notebooks", {}).setdefault(path.stem, {}).setdefault(kind, {})[budget] = round(seconds, 1)
            print(f"{path.stem:24s} {budget:5s} {seconds:7.1f} s", flush=True)
            costs.save(table)     # written after every notebook: a stopped run keeps its figures
    if failed:
        print(f"failed (not timed): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
