"""How long `make book REUSE=1` takes to rebuild the book, and what the cache of finished runs saves per chapter.

Run it from a clean checkout whose setup is done (it edits the preface and one notebook, and puts them back):

    python benchmarks/rebuild_times.py [--budget book] [--chapter 07_critic_classifier] [--out times.json]

1. ``cold``: ``make book REUSE=1`` with no ``_build`` (so no execution cache) and an empty run folder, so
   every notebook executes and every run trains (and is stored);
2. ``prose edit``: a sentence added to ``book/preface.md``, then the same command: nothing should execute;
3. ``code edit``: a comment added to one chapter's last code cell: that chapter alone should execute, its
   training runs loaded from the run folder;
4. ``cached``: each notebook executed on its own (``jupyter execute``, ``GAN_LAB_REUSE=1``, the build's pinned
   numerics, which are part of a run's key) with the run folder of step 1, next to its uncached time as
   ``gan_lab/costs.json`` measured it.

Which notebooks executed in a build is read from the execution cache (jupyter-cache): a build that executes
a notebook adds a record for it. The figures are printed and written as JSON (``--out``).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classroom.build import book_notebooks  # noqa: E402
from gan_lab import costs, settings  # noqa: E402

PROSE = "\n\nThis sentence was added by benchmarks/rebuild_times.py to time a rebuild after a prose edit.\n"
COMMENT = "\n# added by benchmarks/rebuild_times.py to time a rebuild after a code edit"


def records(cache_root: Path) -> dict:
    """pk -> (notebook stem, execution seconds) of every execution cache under ``cache_root``."""
    from jupyter_cache import get_cache
    found = {}
    for folder in sorted(cache_root.glob("*")) if cache_root.is_dir() else []:
        for r in get_cache(str(folder)).list_cache_records():
            found[(folder.name, r.pk)] = (Path(r.uri).stem, float((r.data or {}).get("execution_seconds", "nan")))
    return found


def build(budget: str, runs: str, cache_root: Path) -> dict:
    """One ``make book REUSE=1``: its wall time and the notebooks it executed (with their execution times)."""
    before = records(cache_root)
    env = dict(os.environ, GAN_LAB_BUDGET=budget, GAN_LAB_RUN_DIR=runs)
    start = time.perf_counter()
    done = subprocess.run(["make", "book", "REUSE=1", f"GAN_LAB_BUDGET={budget}"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"make book REUSE=1 failed (exit {done.returncode})")
    executed = {stem: round(s, 1) for key, (stem, s) in records(cache_root).items() if key not in before}
    return {"seconds": round(seconds, 1), "executed": executed}


def execute(path: Path, budget: str, runs: str) -> float:
    # the build's numerics (make book pins them), so that the runs it stored are the ones this execution loads
    env = dict(os.environ, **settings.REFERENCE_NUMERICS, GAN_LAB_BUDGET=budget, GAN_LAB_REUSE="1",
               GAN_LAB_RUN_DIR=runs)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jupyter", "execute", "--timeout=-1", "--output",
                        str(Path(tmp) / path.name), str(path)], check=True, env=env, cwd=path.parent,
                       capture_output=True)
        return time.perf_counter() - start


def add_comment(path: Path) -> None:
    nb = json.loads(path.read_text())
    cell = [c for c in nb["cells"] if c["cell_type"] == "code"][-1]
    source = "".join(cell["source"]) + COMMENT
    cell["source"] = source.splitlines(True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", default="book", choices=list(costs.BUDGETS))
    ap.add_argument("--chapter", default="07_critic_classifier", help="the notebook whose code is edited in step 3")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    if dirty:
        raise SystemExit(f"run this from a clean checkout (it edits and restores files); changed:\n{dirty}")
    notebooks = {p.stem: p for p in book_notebooks()}
    if args.chapter not in notebooks:
        raise SystemExit(f"--chapter {args.chapter!r} is not a notebook of the book; one of {sorted(notebooks)}")
    cache_root = ROOT / "_build" / ".jupyter_cache"
    shutil.rmtree(ROOT / "_build", ignore_errors=True)   # cold: no execution cache, no Sphinx environment
    preface, chapter = ROOT / "book" / "preface.md", notebooks[args.chapter]
    kept = {p: p.read_bytes() for p in (preface, chapter)}
    out: dict = {"budget": args.budget, "machine": f"{os.cpu_count()} cores", "torch": __import__("torch").__version__}
    with tempfile.TemporaryDirectory(prefix="gan_lab_rebuild_") as runs:
        try:
            out["cold"] = build(args.budget, runs, cache_root)
            print(f"cold build: {out['cold']['seconds']:.0f} s, {len(out['cold']['executed'])} notebooks executed")
            preface.write_text(preface.read_text() + PROSE)
            out["prose edit"] = build(args.budget, runs, cache_root)
            print(f"after a prose edit: {out['prose edit']['seconds']:.0f} s, executed {out['prose edit']['executed']}")
            add_comment(chapter)
            out["code edit"] = {"chapter": args.chapter, **build(args.budget, runs, cache_root)}
            print(f"after a code edit to {args.chapter}: {out['code edit']['seconds']:.0f} s, "
                  f"executed {out['code edit']['executed']}")
        finally:
            for p, data in kept.items():
                p.write_bytes(data)
        measured = costs.load().get("notebooks", {})
        out["cached"] = {}
        for stem, path in notebooks.items():
            seconds = execute(path, args.budget, runs)
            uncached = measured.get(stem, {}).get("cpu", {}).get(args.budget)
            cold = out["cold"]["executed"].get(stem)
            out["cached"][stem] = {"cached": round(seconds, 1), "cold build": cold, "costs.json": uncached}
            print(f"  {stem:30s} cached {seconds:6.1f} s   uncached {cold if cold is not None else float('nan'):6.1f} s "
                  f"in the cold build ({uncached} s in costs.json)")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
