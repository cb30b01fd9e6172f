"""``make grade SUBMISSIONS=<folder>``: grade every notebook in a folder with the assignments' autograders.

Each submission is graded by ``otter run`` (no Docker) with the autograder ``make assignments`` built for
its assignment (named in the notebook's metadata, which the student notebook carries, or else by its file
name). Before otter sees it, the grader adds one cell to a copy of the submission: a time limit on every
cell, so a cell that never finishes is stopped, counts as an error, and the rest of the notebook still
runs; whatever did not run scores zero. A notebook that raises is graded the same way (otter keeps
executing after an error). A submission that cannot be graded at all (not a notebook, no matching
assignment, the grading process itself died) gets a row of zeros and says why.

Output (``--out``, default ``_build/grades``)::

    grades.csv               one row per submission: one column per exercise, the total, the maximum
    feedback/<name>.md       per submission: the score of each exercise and, for each one lost, what differed

Run: ``python -m classroom.grade SUBMISSIONS [--assignments DIR] [--out DIR] [--jobs N]``.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import dill
import nbformat

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ASSIGNMENTS = ROOT / "_build" / "assignments"
DEFAULT_OUT = ROOT / "_build" / "grades"
CELL_SECONDS = 600.0       # a student cell running longer than this is stopped (it counts as an error)
NOTEBOOK_SECONDS = 3600.0  # the whole grading of one submission, the last resort if a cell cannot be stopped

__all__ = ["Grade", "grade_submission", "grade_folder", "time_limit_cell", "main"]


@dataclass
class Grade:
    """One submission's grade: points per exercise, and for each exercise lost, what differed."""
    submission: str
    assignment: str
    scores: dict[str, float] = field(default_factory=dict)
    possible: dict[str, float] = field(default_factory=dict)
    feedback: dict[str, str] = field(default_factory=dict)
    error: str = ""
    cell_errors: list[str] = field(default_factory=list)   # cells of the submission that raised or timed out
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.scores.values())

    @property
    def maximum(self) -> float:
        return sum(self.possible.values())


def time_limit_cell(seconds: float) -> str:
    """Source of the cell put first in a submission's copy: each later cell of the submission is stopped with
    TimeoutError after ``seconds`` (otter's own cells, which run the tests, are left alone: every test has its
    own limit, ``classroom.hidden.time_limit``)."""
    return (
        "# added by the gan-lab grader: a time limit on every cell of this submission\n"
        "import signal as _grader_signal\n"
        "def _grader_expired(signum, frame):\n"
        f"    raise TimeoutError('this cell ran longer than the grader allows ({seconds:g} s) and was stopped')\n"
        "def _grader_arm(info):\n"
        "    if 'otter' not in info.raw_cell:\n"
        "        _grader_signal.signal(_grader_signal.SIGALRM, _grader_expired)\n"
        f"        _grader_signal.setitimer(_grader_signal.ITIMER_REAL, {seconds!r})\n"
        "def _grader_disarm(result):\n"
        "    _grader_signal.setitimer(_grader_signal.ITIMER_REAL, 0)\n"
        "get_ipython().events.register('pre_run_cell', _grader_arm)\n"
        "get_ipython().events.register('post_run_cell', _grader_disarm)\n"
    )


def _assignment_of(nb: nbformat.NotebookNode, path: Path, known: list[str]) -> Optional[str]:
    name = nb.get("metadata", {}).get("otter", {}).get("assignment_name")
    if name in known:
        return name
    matches = [k for k in known if k in path.stem]
    return max(matches, key=len) if matches else None


def _autograder(assignments: Path, name: str) -> Path:
    return assignments / name / "autograder" / "autograder.zip"


def _exercises(assignments: Path, name: str) -> dict[str, float]:
    """Exercise -> points, from the autograder's test files (the order the notebook has them)."""
    order = json.loads((assignments / name / "autograder" / "exercises.json").read_text(encoding="utf-8"))
    return {label: float(points) for label, points in order}


def _first_failure(test_file) -> str:
    for result in test_file.test_case_results:
        if not result.passed:
            message = result.message.split("\n")
            said = [ln.strip() for ln in message if re.match(r"\s*\w*(Error|Exception)\b.*:", ln)]
            return said[-1] if said else " ".join(ln.strip() for ln in message[1:])[:500]
    return ""


def _cell_errors(executed: Optional[nbformat.NotebookNode]) -> list[str]:
    """What raised in the executed submission: 'ExceptionName: message (in the cell starting `...`)'."""
    errors = []
    for cell in (executed.cells if executed is not None else []):
        if cell.cell_type != "code" or "_grader_signal" in cell.source or "otter" in cell.source:
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")[:60]
                errors.append(f"{output.get('ename')}: {output.get('evalue', '')[:200]} (in the cell starting `{first}`)")
    return errors


def grade_submission(path: Path, assignments: Path = DEFAULT_ASSIGNMENTS, *, cell_seconds: float = CELL_SECONDS,
                     notebook_seconds: float = NOTEBOOK_SECONDS) -> Grade:
    """Grade one notebook; never raises for a bad submission (the grade says what went wrong)."""
    path, assignments = Path(path).resolve(), Path(assignments).resolve()
    start = time.perf_counter()
    known = sorted(p.name for p in assignments.iterdir() if _autograder(assignments, p.name).exists()) \
        if assignments.is_dir() else []
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # noqa: BLE001 -- any unreadable file is a gradeable outcome, not a crash
        return Grade(path.stem, "?", error=f"not a readable notebook ({type(e).__name__}: {e})")
    name = _assignment_of(nb, path, known)
    if name is None:
        return Grade(path.stem, "?", error=f"no assignment matches it (built: {', '.join(known) or 'none'}; "
                                           "run `make assignments` first)")
    grade = Grade(path.stem, name, possible=_exercises(assignments, name))
    grade.scores = {label: 0.0 for label in grade.possible}
    with tempfile.TemporaryDirectory(prefix=f"grade-{path.stem}-") as tmp:
        work = Path(tmp)
        nb.cells.insert(0, nbformat.v4.new_code_cell(time_limit_cell(cell_seconds)))
        submission = work / f"{name}.ipynb"
        nbformat.write(nb, submission)
        out = work / "out"
        out.mkdir()
        # the hidden tests' seeds and tolerances were measured at seed offset 0: grade there, whatever is set
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", GAN_LAB_SEED_OFFSET="0")
        # its own session, so that a stop also ends the kernel otter started (its grandchild)
        proc = subprocess.Popen([sys.executable, "-m", "otter", "run", "--no-logo", "-p",
                                 "-a", str(_autograder(assignments, name)), "-o", str(out), str(submission)],
                                cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=notebook_seconds)
            run = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            grade.error = f"grading did not finish within {notebook_seconds:g} s and was stopped"
            grade.feedback = {label: grade.error for label in grade.possible}
            grade.seconds = time.perf_counter() - start
            return grade
        pickled = work / "results.pkl"        # `otter run -p` writes it into its working folder
        if run.returncode != 0 or not pickled.exists():
            tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
            grade.error = "the grader could not run this notebook: " + " / ".join(tail)
            grade.feedback = {label: grade.error for label in grade.possible}
            grade.seconds = time.perf_counter() - start
            return grade
        with open(pickled, "rb") as f:
            results = dill.load(f)             # otter pickles its GradingResults with dill
    grade.cell_errors = _cell_errors(getattr(results, "notebook", None))
    for label in grade.possible:
        test_file = results.results.get(label)
        if test_file is None:
            grade.feedback[label] = "not graded: its tests did not run"
            continue
        grade.scores[label] = float(test_file.score) * grade.possible[label] / max(float(test_file.possible), 1e-12)
        if grade.scores[label] < grade.possible[label]:
            grade.feedback[label] = _first_failure(test_file) or "a test failed"
    grade.seconds = time.perf_counter() - start
    return grade


def _feedback_text(grade: Grade) -> str:
    lines = [f"# Feedback: {grade.submission} ({grade.assignment})", "",
             f"Score: {grade.total:g} / {grade.maximum:g}", ""]
    if grade.error:
        lines += [f"**The notebook could not be graded in full:** {grade.error}", ""]
    if grade.cell_errors:
        lines += ["**Cells that stopped with an error** (what they define was missing for the grader):", ""]
        lines += [f"- {e}" for e in grade.cell_errors] + [""]
    for label, points in grade.possible.items():
        got = grade.scores.get(label, 0.0)
        mark = "passed" if got >= points else "lost"
        lines.append(f"- `{label}`: {got:g} / {points:g} ({mark})")
        if label in grade.feedback:
            lines.append(f"  - what differed: {grade.feedback[label]}")
    return "\n".join(lines) + "\n"


def _write(grades: list[Grade], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    feedback = out / "feedback"
    shutil.rmtree(feedback, ignore_errors=True)
    feedback.mkdir()
    by_assignment = {g.assignment: list(g.possible) for g in grades}   # assignments by name, exercises in order
    columns = [label for name in sorted(by_assignment) for label in by_assignment[name]]
    tmp = out / "grades.csv.tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "assignment", *columns, "total", "max", "error"])
        for g in grades:
            writer.writerow([g.submission, g.assignment,
                             *[f"{g.scores[c]:g}" if c in g.scores else "" for c in columns],
                             f"{g.total:g}", f"{g.maximum:g}", g.error])
    os.replace(tmp, out / "grades.csv")
    for g in grades:
        (feedback / f"{g.submission}.md").write_text(_feedback_text(g), encoding="utf-8")
    return out / "grades.csv"


def grade_folder(submissions: Path, assignments: Path = DEFAULT_ASSIGNMENTS, out: Path = DEFAULT_OUT, *,
                 jobs: int = 1, cell_seconds: float = CELL_SECONDS,
                 notebook_seconds: float = NOTEBOOK_SECONDS) -> list[Grade]:
    """Grade every ``*.ipynb`` under ``submissions`` (checkpoints skipped) and write grades.csv + feedback."""
    submissions, assignments, out = Path(submissions), Path(assignments), Path(out)
    if not submissions.is_dir():
        raise ValueError(f"SUBMISSIONS must be a folder of notebooks, got {str(submissions)!r}")
    if not assignments.is_dir() or not any(_autograder(assignments, p.name).exists() for p in assignments.iterdir()):
        raise ValueError(f"no autograder under {str(assignments)!r}: run `make assignments` first")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    for name, value in (("cell_seconds", cell_seconds), ("notebook_seconds", notebook_seconds)):
        if not value > 0:
            raise ValueError(f"{name} must be > 0, got {value}")
    paths = sorted(p for p in submissions.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not paths:
        raise ValueError(f"no .ipynb files in {str(submissions)!r}")
    names = [p.stem for p in paths]
    clash = sorted({n for n in names if names.count(n) > 1})
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        grades = list(pool.map(lambda p: grade_submission(p, assignments, cell_seconds=cell_seconds,
                                                          notebook_seconds=notebook_seconds), paths))
    for p, g in zip(paths, grades):
        if g.submission in clash:   # alice/01_minimax.ipynb and bob/01_minimax.ipynb: name them by folder
            g.submission = "_".join(p.relative_to(submissions).with_suffix("").parts)
    csv_path = _write(grades, out)
    for g in grades:
        status = f"{g.total:g}/{g.maximum:g}" + (f"  ({g.error})" if g.error else "")
        print(f"[grade] {g.submission} ({g.assignment}): {status} in {g.seconds:.0f} s")
    print(f"[grade] {len(grades)} submission(s) -> {csv_path}")
    return grades


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classroom.grade", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of submitted notebooks")
    parser.add_argument("--assignments", type=Path, default=DEFAULT_ASSIGNMENTS)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once")
    parser.add_argument("--cell-seconds", type=float, default=CELL_SECONDS)
    parser.add_argument("--notebook-seconds", type=float, default=NOTEBOOK_SECONDS)
    args = parser.parse_args(argv)
    try:
        grade_folder(args.submissions, args.assignments, args.out, jobs=args.jobs, cell_seconds=args.cell_seconds,
                     notebook_seconds=args.notebook_seconds)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
