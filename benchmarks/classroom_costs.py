"""What each assignment costs a teacher: to build and to grade; with what a student's run costs (book/teaching.md).

For every book notebook with exercises this builds its assignment (``classroom.build``) and grades its
reference submission once (``classroom.grade``, at the quick budget, as ``make grade`` does), timing both.
A student's run at each budget is the notebook's measured cost from ``gan_lab/costs.json``
(``benchmarks/notebook_costs.py``). Writes the Markdown table book/teaching.md includes.

    python benchmarks/classroom_costs.py [--only 01_minimax ...] [--md benchmarks/classroom_costs.md]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classroom import build, grade  # noqa: E402
from gan_lab import costs  # noqa: E402


def duration(s) -> str:
    if s is None:
        return "not measured"
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--md", type=Path, default=ROOT / "benchmarks" / "classroom_costs.md")
    args = ap.parse_args()
    os.environ["GAN_LAB_BUDGET"] = "quick"
    measured = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "assignments"
        for path in build.book_notebooks():
            if (args.only and path.stem not in args.only) or not build.parse_notebook(path).exercises:
                continue
            start = time.perf_counter()
            build.build_assignment(path, out)
            built = time.perf_counter() - start
            subs = Path(tmp) / f"subs-{path.stem}"
            subs.mkdir()
            reference = out / path.stem / "reference" / f"{path.stem}.ipynb"
            (subs / reference.name).write_bytes(reference.read_bytes())
            start = time.perf_counter()
            (g,) = grade.grade_folder(subs, out, Path(tmp) / f"grades-{path.stem}")
            graded = time.perf_counter() - start
            if g.total != g.maximum:
                raise SystemExit(f"{path.stem}: the reference scored {g.total}/{g.maximum}: {g.feedback}")
            measured.append((path.stem, graded, built))
            print(f"{path.stem}: graded in {graded:.0f} s, built in {built:.0f} s", flush=True)
    table = costs.load()   # read at the end: a notebook_costs.py run may have finished meanwhile
    lines = ["| assignment | a student's run: quick | book | grading one submission | building it |",
             "|---|---|---|---|---|"]
    for stem, graded, built in measured:
        run = {b: costs.seconds(stem, b, "cpu", table) for b in ("quick", "book")}
        lines.append(f"| `{stem}` | {duration(run['quick'])} | {duration(run['book'])} | "
                     f"{duration(graded)} | {duration(built)} |")
    args.md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"-> {args.md}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
