"""``make assignments``: every book notebook with exercises -> a student notebook and an otter-grader autograder.

The chapter notebook stays the one source. For each notebook this module

1. splits it into cells for the student (prose, figures' code, exercise prompts, stubs) and the reference
   solutions (the ``{solution-start}`` ... ``{solution-end}`` regions and the cells tagged ``solution``);
2. rewrites the MyST markup into plain Markdown (``classroom.myst``);
3. writes an otter-grader "master" notebook: each code exercise becomes an otter question whose prompt is
   the stub, whose solution is the reference (``X_solution`` renamed ``X``), and whose tests are the
   visible check (the one the student runs) and the hidden test of ``classroom/hidden/<module>.py``,
   all-or-nothing, so matching only the visible check earns nothing (a chapter's pages share one module:
   book/09_conditional and book/09_digits_and_codes are both graded with ``ch09``);
4. runs ``otter assign`` on it, which writes the student notebook (no solutions, no tests) and the
   autograder (tests, the hidden-test package, ``autograder.zip``).

Output, for a notebook ``book/NN_name.ipynb`` (assignment name ``NN_name``)::

    _build/assignments/NN_name/student/NN_name.ipynb       hand this out
    _build/assignments/NN_name/autograder/autograder.zip   `otter run` grades with it
    _build/assignments/NN_name/autograder/                 otter's autograder notebook and tests, exercises.json
    _build/assignments/NN_name/reference/NN_name.ipynb     the student notebook filled with the reference
                                                           solutions: a submission that earns full marks

Run: ``python -m classroom.build [--only NAME ...] [--out DIR]``.
"""
from __future__ import annotations

import argparse
import copy
import importlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import nbformat
import yaml

from . import myst

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "_build" / "assignments"
SOLUTION_FENCE = re.compile(r"^```\{solution-(start|end)\}[ \t]*(\S*)[ \t]*\n(?:[ \t]*:[a-z-]+:.*\n)*```[ \t]*$", re.M)
STUB = re.compile(r"raise NotImplementedError")
DEF = re.compile(r"^def (\w+)\(", re.M)
PIN = re.compile(r'gan-lab-book @ git\+https://github\.com/gan-lab/gan-lab@v([0-9][^"\s]*)')

__all__ = ["book_notebooks", "hidden_module_name", "parse_notebook", "master_notebook", "build_assignment",
           "build_all", "fill", "Exercise", "Parsed"]


def book_notebooks() -> list[Path]:
    """The book's notebooks in reading order (``_toc.yml``)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files: list[str] = []

    def walk(entries):
        for e in entries or []:
            if "file" in e:
                files.append(e["file"])
            walk(e.get("sections"))
            walk(e.get("chapters"))
    walk(toc.get("chapters"))
    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def hidden_module_name(notebook: Path) -> str:
    """``book/05_gradient_penalty.ipynb`` -> ``ch05``; ``book/assignments/fix_x.ipynb`` -> ``fix_x``."""
    m = re.match(r"(\d\d)_", notebook.stem)
    return f"ch{m.group(1)}" if m else notebook.stem


@dataclass
class Exercise:
    label: str
    prompt: str                            # the {exercise} directive (MyST)
    stub: Optional[str] = None             # the code cell the student fills in (None: a written exercise)
    solution: list[str] = field(default_factory=list)   # code of the cells tagged `solution`

    @property
    def names(self) -> list[str]:
        return DEF.findall(self.stub or "")

    def check_call(self) -> str:
        """The visible check the stub ends with, e.g. ``gl.exercises.ch01.check_x(x)``."""
        lines = [ln.strip().rstrip(";") for ln in (self.stub or "").splitlines()
                 if re.match(r"[\w.]+\.check_\w+\(", ln.strip())]
        if len(lines) != 1:
            raise ValueError(f"exercise {self.label}: its stub must end with exactly one visible check call, "
                             f"found {lines}")
        return lines[0]

    def answer_cell(self) -> str:
        """One cell that otter turns into the stub (student) or the reference (autograder): the stub sits in
        an in-cell prompt block, the reference in a solution block that leaves no prompt behind."""
        if '"""' in (self.stub or ""):
            raise ValueError(f"exercise {self.label}: a stub cannot contain triple double quotes")
        return (f'""" # BEGIN PROMPT\n{self.stub.rstrip()}\n""" # END PROMPT\n'
                f"# BEGIN SOLUTION NO PROMPT\n{self.reference().rstrip()}\n# END SOLUTION\n")

    def reference(self) -> str:
        """The solution as the student would write it: ``X_solution`` renamed ``X``."""
        code = re.sub(r"\b(\w+)_solution\b", r"\1", "\n\n\n".join(self.solution)).strip()
        # what the stub cell imports (e.g. its checks module) the student keeps when filling it in
        imports = [ln for ln in (self.stub or "").splitlines()
                   if re.match(r"(from\s+\S+\s+)?import\s", ln) and ln not in code]
        return ("\n".join(imports) + "\n\n\n" if imports else "") + code + "\n"


@dataclass
class Parsed:
    """A notebook as a list of items: ("markdown", text) / ("code", cell) / ("exercise", Exercise)."""
    items: list[tuple[str, object]]
    exercises: dict[str, Exercise]


def _pieces(text: str) -> list[tuple[str, str]]:
    """Split Markdown at solution fences: [("text", ...), ("start", label), ("end", ""), ...]."""
    out, pos = [], 0
    for m in SOLUTION_FENCE.finditer(text):
        out.append(("text", text[pos:m.start()]))
        out.append((m.group(1), m.group(2)))
        pos = m.end()
    out.append(("text", text[pos:]))
    return out


def _split_exercises(text: str) -> list[tuple[str, str]]:
    """Split Markdown around each {exercise} directive: [("text", ...), ("exercise", directive), ...]."""
    out, pos = [], 0
    for m in re.finditer(r"^```\{exercise\}.*?^```[ \t]*$", text, re.M | re.S):
        out.append(("text", text[pos:m.start()]))
        out.append(("exercise", m.group(0)))
        pos = m.end()
    out.append(("text", text[pos:]))
    return [(k, t) for k, t in out if k == "exercise" or t.strip()]


def parse_notebook(path: Path) -> Parsed:
    nb = nbformat.read(path, as_version=4)
    items: list[tuple[str, object]] = []
    exercises: dict[str, Exercise] = {}
    open_label: Optional[str] = None        # inside {solution-start} label ... {solution-end}
    last: Optional[Exercise] = None         # the exercise whose stub may follow
    for i, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "markdown":
            for kind, value in _pieces(cell.source):
                if kind == "start":
                    if open_label is not None or value not in exercises:
                        raise ValueError(f"{path.name} cell {i}: solution-start '{value}' without its exercise")
                    open_label, last = value, None
                elif kind == "end":
                    if open_label is None:
                        raise ValueError(f"{path.name} cell {i}: solution-end without solution-start")
                    open_label = None
                elif open_label is None:
                    for sub, text in _split_exercises(value):
                        if sub == "exercise":
                            label = re.search(r"^:label:\s*(\S+)", text, re.M)
                            if label is None:
                                raise ValueError(f"{path.name} cell {i}: an exercise without :label:")
                            last = exercises[label.group(1)] = Exercise(label.group(1), text)
                            items.append(("exercise", last))
                        else:
                            items.append(("markdown", text.strip("\n")))
                            last = None
        elif cell.cell_type == "code":
            if "solution" in tags or open_label is not None:
                if open_label is None or "solution" not in tags:
                    raise ValueError(f"{path.name} cell {i}: a code cell in a solution must be tagged `solution`, "
                                     "and a `solution` cell must be inside {solution-start} ... {solution-end}")
                exercises[open_label].solution.append(cell.source)
            elif last is not None and STUB.search(cell.source):
                last.stub = cell.source
                last = None
            else:
                items.append(("code", cell))
                last = None
        else:
            items.append(("code", cell)) if cell.cell_type == "raw" else None
    if open_label is not None:
        raise ValueError(f"{path.name}: solution of '{open_label}' is never closed by solution-end")
    for ex in exercises.values():
        if ex.stub is not None and not ex.solution:
            raise ValueError(f"{path.name}: exercise '{ex.label}' has a stub but no `solution` cell")
    return Parsed(items, exercises)


def _raw(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_raw_cell(text)


def _test_cell(body: str, *, hidden: bool, name: str) -> nbformat.NotebookNode:
    config = f"hidden: {str(hidden).lower()}\n"
    return nbformat.v4.new_code_cell(
        f'""" # BEGIN TEST CONFIG\n{config}""" # END TEST CONFIG\n'
        f"def {name}(env):\n{body}")


def _otter_config(name: str, version: str) -> str:
    config = {
        "name": name,
        "init_cell": False, "check_all_cell": False, "export_cell": False,
        "run_tests": False,                 # the reference is graded in tests/test_classroom.py instead
        "tests": {"files": True, "ok_format": False},
        "files": ["classroom"],             # the hidden tests travel with the autograder only ...
        "generate": {"pdf": False},
        "requirements": "requirements.txt",
        "overwrite_requirements": True,
    }
    return "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False)


def _intro(name: str, version: str, n_graded: int, n_written: int) -> str:
    return (f"> **Assignment `{name}`**, built from the gan-lab book, version {version}. "
            f"{n_graded} exercise(s) are graded automatically: write your code where a cell says "
            "`raise NotImplementedError`, run the check below it (it says *correct*, *not attempted*, or what "
            "differed), and keep the function names. Your teacher's grader also runs tests you do not see, on "
            f"other inputs, so make your code right, not only the check green. {n_written} written question(s) "
            "are read by your teacher: answer them in the cell under each. On Colab the first code cell installs "
            f"gan_lab {version}; when you are done, *File > Download > Download .ipynb* and hand that file in.")


def _code_exercise_labels(module: str, skip: Optional[Path] = None) -> set[str]:
    """The labels of the code exercises of every book notebook (``_toc.yml``) whose hidden module is
    ``module``, ``skip`` left out."""
    skip = Path(skip).resolve() if skip is not None else None
    return {ex.label for p in book_notebooks() if hidden_module_name(p) == module and p.resolve() != skip
            for ex in parse_notebook(p).exercises.values() if ex.stub is not None}


def master_notebook(path: Path, index: myst.BookIndex, version: str) -> nbformat.NotebookNode:
    """The otter-grader master notebook for one book notebook."""
    parsed = parse_notebook(path)
    stem = path.stem
    module = hidden_module_name(path)
    hidden = importlib.import_module(f"classroom.hidden.{module}").HIDDEN if parsed.exercises else {}
    graded = [ex for ex in parsed.exercises.values() if ex.stub is not None]
    missing = sorted({ex.label for ex in graded} - set(hidden))
    # several notebooks may share a module (book/09_conditional and book/09_digits_and_codes: ch09); a hidden
    # test is unknown only when it belongs to no code exercise of any of them (this one included)
    extra = set(hidden) - {ex.label for ex in graded}
    extra = sorted(extra - _code_exercise_labels(module, skip=path)) if extra else []
    if missing or extra:
        raise ValueError(f"{path.name}: classroom/hidden/{module}.py must test exactly the code exercises of "
                         f"the notebooks that share it; missing {missing}, unknown {extra}")
    source = nbformat.read(path, as_version=4)
    cited = myst.cited_keys("\n".join(c.source for c in source.cells if c.cell_type == "markdown"))
    md = lambda text: nbformat.v4.new_markdown_cell(myst.to_markdown(text, index, stem, cited=cited))  # noqa: E731

    cells = [_raw(_otter_config(stem, version)),
             nbformat.v4.new_markdown_cell(_intro(stem, version, len(graded),
                                                  len(parsed.exercises) - len(graded)))]
    first_code = True
    for kind, value in parsed.items:
        if kind == "markdown":
            cells.append(md(value))
        elif kind == "code":
            cell = copy.deepcopy(value)
            cell.outputs, cell.execution_count = [], None
            if first_code and cell.cell_type == "code":
                pin = PIN.search(cell.source)
                if pin is None or pin.group(1) != version:
                    raise ValueError(f"{path.name}: the first code cell must install gan-lab-book pinned at "
                                     f"v{version} (run scripts/release.py {version}); found "
                                     f"{pin.group(0) if pin else 'no pinned install'}")
                first_code = False
            cells.append(cell)
        else:
            ex: Exercise = value
            if ex.stub is None:             # a written question: the teacher reads the answer
                cells += [md(ex.prompt), nbformat.v4.new_markdown_cell("*Your answer:*")]
                continue
            check = ex.check_call()
            cells += [
                _raw(yaml.safe_dump({"name": ex.label, "points": 1, "all_or_nothing": True,
                                "check_cell": False}, sort_keys=False)
                     .join(["# BEGIN QUESTION\n", ""])),
                md(ex.prompt),
                _raw("# BEGIN SOLUTION"), nbformat.v4.new_code_cell(ex.answer_cell()), _raw("# END SOLUTION"),
                _raw("# BEGIN TESTS"),
                _test_cell(f"    from classroom.hidden import visible_check\n"
                           f"    visible_check(env, {check!r})\n", hidden=False, name="test_visible_check"),
                _test_cell(f"    from classroom.hidden import run_hidden\n"
                           f"    run_hidden(env, {module!r}, {ex.label!r})\n", hidden=True, name="test_hidden"),
                _raw("# END TESTS"),
                _raw("# END QUESTION"),
            ]
    nb = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(source.metadata))
    return nb


def fill(student: Path, answers: dict[str, str], target: Path) -> Path:
    """A submission made from a student notebook: the answer cell of each exercise in ``answers`` (label ->
    code) replaced by that code, the others left as stubs. Used for the reference submission and by the
    tests (planted wrong answers)."""
    nb = nbformat.read(student, as_version=4)
    cells = [c for c in nb.cells if "otter_answer_cell" in c.get("metadata", {}).get("tags", [])]
    labels = [label for label, _ in json.loads(
        (Path(student).parent.parent / "autograder" / "exercises.json").read_text(encoding="utf-8"))]
    if len(cells) != len(labels):
        raise ValueError(f"{Path(student).name}: {len(cells)} answer cells for {len(labels)} graded exercises")
    unknown = sorted(set(answers) - set(labels))
    if unknown:
        raise ValueError(f"no exercise {unknown} in {Path(student).name}; its exercises are {labels}")
    for cell, label in zip(cells, labels):
        if label in answers:
            cell.source = answers[label]
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


def _version() -> str:
    import gan_lab
    return gan_lab.__version__


def _requirements(version: str) -> str:
    return (f"# what a grading machine needs besides otter-grader: the gan_lab the assignment was built from\n"
            f"gan-lab-book @ git+https://github.com/gan-lab/gan-lab@v{version}\n")


def build_assignment(path: Path, out: Path = DEFAULT_OUT, *, index: Optional[myst.BookIndex] = None) -> Path:
    """Build one notebook's assignment under ``out/<stem>``; returns that folder."""
    path = Path(path).resolve()
    index = index or myst.index_book(book_notebooks(), ROOT / "book" / "references.bib")
    version = _version()
    master = master_notebook(path, index, version)
    target = Path(out) / path.stem
    with tempfile.TemporaryDirectory(prefix=f"assign-{path.stem}-") as tmp:
        work = Path(tmp)
        shutil.copytree(ROOT / "classroom", work / "classroom",
                        ignore=shutil.ignore_patterns("__pycache__", "build.py", "grade.py", "myst.py"))
        (work / "requirements.txt").write_text(_requirements(version), encoding="utf-8")
        nbformat.write(master, work / f"{path.stem}.ipynb")
        result = subprocess.run([sys.executable, "-m", "otter", "assign", f"{path.stem}.ipynb", "dist"],
                                cwd=work, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"otter assign failed for {path.name}:\n{result.stdout}\n{result.stderr}")
        staged = work / "dist"
        student = staged / "student"
        for extra in ("tests", "classroom", "requirements.txt"):   # the student gets the notebook only
            p = student / extra
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        autograder = staged / "autograder"
        (zipped,) = autograder.glob("*-autograder_*.zip")        # otter stamps the name with the time
        zipped.rename(autograder / "autograder.zip")
        graded = [ex for ex in parse_notebook(path).exercises.values() if ex.stub is not None]
        (autograder / "exercises.json").write_text(json.dumps([[ex.label, 1] for ex in graded]), encoding="utf-8")
        fill(student / f"{path.stem}.ipynb", {ex.label: ex.reference() for ex in graded},
             staged / "reference" / f"{path.stem}.ipynb")
        tmp_target = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp_target, ignore_errors=True)
        shutil.copytree(staged, tmp_target)
        shutil.rmtree(target, ignore_errors=True)
        tmp_target.rename(target)
    return target


def build_all(out: Path = DEFAULT_OUT, only: Optional[list[str]] = None) -> list[Path]:
    notebooks = book_notebooks()
    known = {p.stem for p in notebooks}
    if only:
        unknown = sorted(set(only) - known)
        if unknown:
            raise ValueError(f"no book notebook named {unknown}; the book's notebooks are {sorted(known)}")
    index = myst.index_book(notebooks, ROOT / "book" / "references.bib")
    built = []
    for path in notebooks:
        if only and path.stem not in only:
            continue
        if not parse_notebook(path).exercises:
            continue
        start = time.perf_counter()
        built.append(build_assignment(path, out, index=index))
        print(f"[assignments] {path.stem}: {time.perf_counter() - start:.1f} s -> {built[-1]}")
    return built


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classroom.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="notebook names (e.g. 01_minimax); default: all with exercises")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    built = build_all(args.out, args.only)
    print(f"[assignments] {len(built)} assignment(s) in {time.perf_counter() - start:.1f} s under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
