"""What each assignment costs: to build, for a student to run, and to grade (the table of book/teaching.md).

For every book notebook with exercises this builds its assignment (``classroom.build``), runs the reference
submission (the student notebook with every exercise solved, i.e. a student's complete run) at each budget
asked for, and grades that submission once (``classroom.grade``, at the quick budget, as ``make grade``
does). Times are wall-clock seconds on this machine, one notebook at a time.

    python benchmarks/classroom_costs.py --budgets quick book [--only 01_minimax ...] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classroom import build, grade  # noqa: E402


def run_notebook(path: Path, budget: str) -> float:
    """Seconds to execute ``path`` top to bottom at ``budget`` (a fresh kernel, as a student's run)."""
    env = dict(os.environ, GAN_LAB_BUDGET=budget, GAN_LAB_REUSE="0")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "jupyter", "execute", "--timeout=-1", str(path)], check=True,
                   env=env, cwd=path.parent, capture_output=True)
    return time.perf_counter() - start


def markdown_table(rows: list[dict], budgets: list[str]) -> str:
    def minutes(s: float) -> str:
        return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"
    head = ["assignment", *[f"student's run, {b} budget" for b in budgets], "grading one submission", "build"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"`{r['assignment']}`", *[minutes(r[f"run_{b}_s"]) for b in budgets], minutes(r["grade_s"]),
                 minutes(r["build_s"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budgets", nargs="+", default=["quick"], choices=["quick", "book", "full"])
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--md", type=Path, help="also write the Markdown table here (book/teaching.md includes "
                                              "benchmarks/classroom_costs.md)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "assignments"
        for path in build.book_notebooks():
            if (args.only and path.stem not in args.only) or not build.parse_notebook(path).exercises:
                continue
            start = time.perf_counter()
            build.build_assignment(path, out)
            row = {"assignment": path.stem, "build_s": time.perf_counter() - start}
            reference = out / path.stem / "reference" / f"{path.stem}.ipynb"
            for budget in args.budgets:
                row[f"run_{budget}_s"] = run_notebook(reference, budget)
            subs = Path(tmp) / f"subs-{path.stem}"
            subs.mkdir()
            (subs / reference.name).write_bytes(reference.read_bytes())
            os.environ["GAN_LAB_BUDGET"] = "quick"
            start = time.perf_counter()
            (g,) = grade.grade_folder(subs, out, Path(tmp) / f"grades-{path.stem}")
            row["grade_s"] = time.perf_counter() - start
            row["score"] = f"{g.total:g}/{g.maximum:g}"
            rows.append(row)
            print(json.dumps(row), flush=True)
    table = markdown_table(rows, args.budgets)
    print("\n" + table)
    if args.md:
        args.md.write_text(table, encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
