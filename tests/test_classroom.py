"""The classroom set (issue 12): `make assignments` builds a student notebook and an otter-grader autograder
from every book notebook with exercises, and `make grade` grades a folder of submissions.

Everything is built once per session into a temporary folder and graded at the quick budget (the test run's
own budget): for each assignment, the student notebook as handed out (every stub unfilled), the reference
submission, and a mixed one (every other exercise a planted wrong answer) -- graded together as one folder,
two at a time. A chapter's planted wrong answers are its exercise contract's (tests/test_exercises_chNN.py),
imported into the submission's kernel; an assignment's are written below.
"""
from __future__ import annotations

import csv
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from classroom import build, grade, myst

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
NOTEBOOKS = [p for p in build.book_notebooks() if build.parse_notebook(p).exercises]
STEMS = [p.stem for p in NOTEBOOKS]
GRADED = {p.stem: [ex for ex in build.parse_notebook(p).exercises.values() if ex.stub is not None] for p in NOTEBOOKS}

# Planted wrong answers for the assignments (the chapters' come from their exercise contracts): each is the
# answer cell a student with that misunderstanding would hand in.
PLANTED = {
    # the unfixed runs handed back as the fix
    "as-fix-dead-critic": "def fixed_settings():\n    return {}\n",
    "as-fix-mode-collapse-ex": "def fixed_settings():\n    return {}\n",
    "as-fix-saturating-ex": "def fixed_settings():\n    return {}\n",
    # plain simultaneous gradient descent-ascent: the game that spirals outward
    "as-fix-oscillating": "def fixed_step(theta, psi, lr):\n    return theta + lr * psi, psi - lr * theta\n",
    # the assignment's own planted mistakes (tests/test_wgan_gp_loop.py), imported into the kernel
    "wgan-gp-loop-ex-critic-loss": "from test_wgan_gp_loop import critic_loss_sign_swapped as critic_loss\n",
    "wgan-gp-loop-ex-penalty": "from test_wgan_gp_loop import penalty_squared_norm as gradient_penalty\n",
    "wgan-gp-loop-ex-train": "from test_wgan_gp_loop import BROKEN_LOOPS\n\n"
                             "train_wgan_gp = BROKEN_LOOPS[\"generator step on the critic's parameters\"]\n",
}


def planted_answer(stem: str, ex: build.Exercise) -> str:
    """Source of a wrong answer cell for ``ex``: the first planted mistake its contract knows."""
    if ex.label in PLANTED:
        return PLANTED[ex.label] + "\n\n" + ex.check_call() + ";\n"
    module = f"test_exercises_{build.hidden_module_name(ROOT / 'book' / (stem + '.ipynb'))}"
    check_name = re.search(r"\.(check_\w+)\(", ex.check_call()).group(1)
    table = __import__(module).CHECKS
    (wrongs,) = [w for check, _, w in table.values() if check.__name__ == check_name]
    (name,) = ex.names
    return f"from {module} import {wrongs[0].__name__} as {name}\n\n\n{ex.check_call()};\n"


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("assignments")
    build.build_all(out)
    return out


@pytest.fixture(scope="session")
def graded(built, tmp_path_factory):
    """Every assignment's unfilled, reference and mixed submissions, graded as one folder."""
    subs = tmp_path_factory.mktemp("submissions")
    for stem in STEMS:
        student = built / stem / "student" / f"{stem}.ipynb"
        nbformat.write(nbformat.read(student, as_version=4), subs / f"{stem}__unfilled.ipynb")
        build.fill(student, {ex.label: ex.reference() for ex in GRADED[stem]}, subs / f"{stem}__reference.ipynb")
        wrong = {ex.label: planted_answer(stem, ex) for i, ex in enumerate(GRADED[stem]) if i % 2 == 0}
        right = {ex.label: ex.reference() for i, ex in enumerate(GRADED[stem]) if i % 2 == 1}
        build.fill(student, {**wrong, **right}, subs / f"{stem}__mixed.ipynb")
    out = tmp_path_factory.mktemp("grades")
    env = os.environ.copy()
    os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])  # the planted answers
    try:
        grades = grade.grade_folder(subs, built, out, jobs=2)
    finally:
        os.environ.clear()
        os.environ.update(env)
    return {g.submission: g for g in grades}, out


# ---- the build -------------------------------------------------------------------------------------------

def test_every_notebook_with_exercises_is_built(built):
    assert STEMS, "no book notebook has exercises"
    for stem in STEMS:
        assert (built / stem / "student" / f"{stem}.ipynb").is_file()
        assert (built / stem / "autograder" / "autograder.zip").is_file()
        assert sorted(p.name for p in (built / stem / "student").iterdir()) == [f"{stem}.ipynb"]


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("stem", STEMS)
def test_the_student_notebook_has_no_solution_and_no_myst(built, stem):
    source = nbformat.read(ROOT / next(p for p in NOTEBOOKS if p.stem == stem), as_version=4)
    student = nbformat.read(built / stem / "student" / f"{stem}.ipynb", as_version=4)
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    text = _markdown(student)
    assert "_solution" not in code and "BEGIN SOLUTION" not in code and "BEGIN PROMPT" not in code
    assert not [c for c in student.cells if "solution" in c.get("metadata", {}).get("tags", [])]
    assert {c.cell_type for c in student.cells} <= {"code", "markdown"}, "raw (otter) cells left for the student"
    # the solution prose is gone: no sentence of any solution region reaches the student
    for cell in source.cells:
        if cell.cell_type == "markdown" and "{solution-start}" in cell.source:
            prose = cell.source.split("{solution-start}", 1)[1].split("\n```", 1)[1].strip()
            for sentence in [s for s in re.split(r"(?<=[.!?])\s", prose) if len(s) > 40][:3]:
                assert sentence not in text, f"solution prose reached the student: {sentence!r}"
    assert not myst.ROLE.search(text), myst.ROLE.search(text)
    assert "```{" not in text and not re.search(r"^\([\w-]+\)=", text, re.M)
    assert not myst.LABELLED_EQUATION.search(text)
    # every stub is there, unfilled, and ends with its visible check
    for ex in GRADED[stem]:
        assert ex.stub.strip() in code
    assert code.count("raise NotImplementedError") >= len(GRADED[stem])


@pytest.mark.parametrize("stem", STEMS)
def test_exercise_numbers_and_titles_are_the_book_s(built, stem):
    index = myst.index_book(build.book_notebooks(), ROOT / "book" / "references.bib")
    text = _markdown(nbformat.read(built / stem / "student" / f"{stem}.ipynb", as_version=4))
    for label in build.parse_notebook(next(p for p in NOTEBOOKS if p.stem == stem)).exercises:
        number, title = index.exercises[label]
        assert f"**Exercise {number}** ({title})" in text


@pytest.mark.parametrize("stem", STEMS)
def test_the_student_notebook_installs_the_version_it_was_built_from(built, stem):
    import gan_lab
    student = nbformat.read(built / stem / "student" / f"{stem}.ipynb", as_version=4)
    first = next(c for c in student.cells if c.cell_type == "code")
    assert f'"gan-lab-book @ git+https://github.com/gan-lab/gan-lab@v{gan_lab.__version__}"' in first.source
    assert 'if "google.colab" in sys.modules' in first.source


def test_the_hidden_tests_reach_the_autograder_only(built):
    import zipfile
    for stem in STEMS:
        names = zipfile.ZipFile(built / stem / "autograder" / "autograder.zip").namelist()
        module = build.hidden_module_name(next(p for p in NOTEBOOKS if p.stem == stem))
        assert f"files/classroom/hidden/{module}.py" in names
        assert not list((built / stem / "student").rglob("*.py"))


def test_a_code_exercise_without_a_hidden_test_is_refused(tmp_path, monkeypatch):
    import classroom.hidden.ch01 as hidden
    monkeypatch.delitem(hidden.HIDDEN, "ch1-ex-optimal-d")
    with pytest.raises(ValueError, match=r"missing \['ch1-ex-optimal-d'\]"):
        build.build_all(tmp_path, ["01_minimax"])
    assert not (tmp_path / "01_minimax").exists(), "a refused build must write nothing"


def _shared_modules() -> dict[str, list[Path]]:
    """hidden module -> the book notebooks with exercises that share it (more than one)."""
    by_module: dict[str, list[Path]] = {}
    for p in NOTEBOOKS:
        by_module.setdefault(build.hidden_module_name(p), []).append(p)
    return {m: ps for m, ps in by_module.items() if len(ps) > 1}


def test_notebooks_that_share_a_hidden_module_each_build_with_their_own_tests(index):
    """Chapter 9's two pages share classroom/hidden/ch09.py: each master notebook builds, and grades only its
    own exercises with it."""
    shared = _shared_modules()
    assert "ch09" in shared, "book/09_conditional and book/09_digits_and_codes should share ch09"
    version = build._version()
    for module, paths in shared.items():
        hidden = set(importlib.import_module(f"classroom.hidden.{module}").HIDDEN)
        covered = set()
        for path in paths:
            master = build.master_notebook(path, index, version)
            code = "\n".join(c.source for c in master.cells if c.cell_type == "code")
            run = set(re.findall(rf"run_hidden\(env, '{module}', '([^']+)'\)", code))
            assert run == {ex.label for ex in GRADED[path.stem]}, path.name
            assert not run & covered, f"{path.name} repeats {sorted(run & covered)}"
            covered |= run
        assert covered == hidden


def test_a_hidden_test_of_no_notebook_of_its_module_is_refused(tmp_path, monkeypatch):
    import classroom.hidden.ch09 as hidden
    monkeypatch.setitem(hidden.HIDDEN, "ch9-ex-nowhere", lambda env: None)
    for stem in ("09_conditional", "09_digits_and_codes"):
        with pytest.raises(ValueError, match=r"missing \[\], unknown \['ch9-ex-nowhere'\]"):
            build.build_all(tmp_path, [stem])
    assert not list(tmp_path.iterdir()), "a refused build must write nothing"


def test_a_hidden_test_of_another_module_s_notebook_is_refused(tmp_path, monkeypatch):
    """Sharing is by module: chapter 8's page does not accept a chapter 9 exercise's hidden test."""
    import classroom.hidden.ch08 as hidden
    monkeypatch.setitem(hidden.HIDDEN, "ch9-ex-cls", lambda env: None)
    with pytest.raises(ValueError, match=r"unknown \['ch9-ex-cls'\]"):
        build.build_all(tmp_path, ["08_losses_and_normalisation"])


def test_an_unknown_notebook_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no book notebook named"):
        build.build_all(tmp_path, ["99_nope"])


# ---- grading ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stem", STEMS)
def test_the_reference_solutions_get_full_marks(graded, stem):
    g = graded[0][f"{stem}__reference"]
    assert not g.error and not g.cell_errors, (g.error, g.cell_errors)
    assert g.scores == g.possible and g.total == len(GRADED[stem]), g.feedback


@pytest.mark.parametrize("stem", STEMS)
def test_the_unfilled_student_notebook_runs_and_scores_zero(graded, stem):
    g = graded[0][f"{stem}__unfilled"]
    assert not g.error, g.error
    assert not g.cell_errors, f"the student notebook raised with its stubs unfilled: {g.cell_errors}"
    assert g.total == 0 and set(g.scores) == {ex.label for ex in GRADED[stem]}
    for label, said in g.feedback.items():
        assert "not attempted" in said, (label, said)


@pytest.mark.parametrize("stem", STEMS)
def test_each_planted_wrong_answer_loses_its_exercise_and_only_it(graded, stem):
    g = graded[0][f"{stem}__mixed"]
    assert not g.error, g.error
    wrong_names = {name for i, ex in enumerate(GRADED[stem]) if i % 2 == 0 for name in ex.names}
    for i, ex in enumerate(GRADED[stem]):
        if i % 2 == 0:
            assert g.scores[ex.label] == 0, f"{ex.label}: a planted wrong answer kept its points"
            assert ex.label in g.feedback and "not attempted" not in g.feedback[ex.label]
        elif any(re.search(rf"\b{name}\(", ex.reference()) for name in wrong_names):
            continue   # this answer builds on a wrong one (chapter 7's matrix calls the reader's auroc)
        else:
            assert g.scores[ex.label] == 1, f"{ex.label}: the reference lost points next to a wrong answer: " \
                                            f"{g.feedback.get(ex.label)}"


def test_grades_csv_has_a_row_per_submission_a_column_per_exercise_and_a_total(graded):
    grades, out = graded
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["submission"] for r in rows) == sorted(grades)
    labels = [ex.label for stem in sorted(STEMS) for ex in GRADED[stem]]   # assignments by name, then in order
    assert list(rows[0])[2:-3] == labels and list(rows[0])[-3:] == ["total", "max", "error"]
    for r in rows:
        stem = r["assignment"]
        own = [ex.label for ex in GRADED[stem]]
        assert float(r["total"]) == sum(float(r[label]) for label in own)
        assert all(r[label] == "" for label in labels if label not in own)
        assert float(r["max"]) == len(own)


def test_feedback_names_each_failed_exercise_and_what_differed(graded):
    grades, out = graded
    for name, g in grades.items():
        text = (out / "feedback" / f"{name}.md").read_text()
        assert f"Score: {g.total:g} / {g.maximum:g}" in text
        for label in g.possible:
            if g.scores[label] < g.possible[label]:
                assert f"`{label}`: 0 / 1 (lost)" in text and g.feedback[label] in text


def test_a_notebook_that_raises_or_never_finishes_loses_only_what_did_not_run(built, tmp_path):
    student = built / "01_minimax" / "student" / "01_minimax.ipynb"
    first, second, third = GRADED["01_minimax"]
    subs = tmp_path / "subs"
    build.fill(student, {first.label: first.reference(),
                         second.label: "import time\nwhile True:\n    time.sleep(0.05)\n",
                         third.label: third.reference() + "\nraise RuntimeError('a bug after the answer')\n"},
               subs / "hangs.ipynb")
    (subs / "broken.ipynb").write_text("this is not a notebook")
    (grades_hang, grades_broken) = sorted(grade.grade_folder(subs, built, tmp_path / "out", cell_seconds=20),
                                          key=lambda g: g.submission != "hangs")
    assert grades_hang.scores == {first.label: 1, second.label: 0, third.label: 1}, grades_hang.feedback
    assert any("TimeoutError" in e for e in grades_hang.cell_errors)
    assert any("a bug after the answer" in e for e in grades_hang.cell_errors)
    assert grades_broken.total == 0 and "not a readable notebook" in grades_broken.error
    rows = list(csv.DictReader(open(tmp_path / "out" / "grades.csv")))
    assert {r["submission"] for r in rows} == {"hangs", "broken"}


def test_a_grade_that_never_finishes_is_stopped_and_recorded(built, tmp_path):
    student = built / "01_minimax" / "student" / "01_minimax.ipynb"
    subs = tmp_path / "subs"
    build.fill(student, {}, subs / "slow.ipynb")
    (g,) = grade.grade_folder(subs, built, tmp_path / "out", notebook_seconds=2)
    assert g.total == 0 and "did not finish within 2 s" in g.error
    assert "did not finish" in (tmp_path / "out" / "feedback" / "slow.md").read_text()


@pytest.mark.parametrize("kwargs, match", [
    (dict(jobs=0), "jobs must be >= 1, got 0"),
    (dict(cell_seconds=0), "cell_seconds must be > 0, got 0"),
    (dict(notebook_seconds=-1), "notebook_seconds must be > 0, got -1"),
])
def test_bad_grading_settings_are_refused_before_any_work(built, tmp_path, kwargs, match):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "a.ipynb").write_text("{}")
    with pytest.raises(ValueError, match=match):
        grade.grade_folder(tmp_path / "subs", built, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_grading_without_assignments_or_submissions_says_what_to_do(tmp_path):
    (tmp_path / "subs").mkdir()
    with pytest.raises(ValueError, match="run `make assignments` first"):
        grade.grade_folder(tmp_path / "subs", tmp_path / "nothing", tmp_path / "out")
    with pytest.raises(ValueError, match="must be a folder"):
        grade.grade_folder(tmp_path / "missing", tmp_path, tmp_path / "out")


def test_the_grader_limits_only_the_submission_s_cells():
    source = grade.time_limit_cell(7)
    assert "ITIMER_REAL, 7" in source and "'otter' not in info.raw_cell" in source
    compile(source, "limit", "exec")


def test_make_grade_without_submissions_prints_its_usage():
    result = subprocess.run(["make", "-s", "grade"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0 and "usage: make grade SUBMISSIONS=" in result.stderr


def test_make_grade_runs_the_grader_at_the_quick_budget():
    result = subprocess.run(["make", "-n", "grade", "SUBMISSIONS=subs"], cwd=ROOT, capture_output=True, text=True)
    assert "GAN_LAB_BUDGET=quick" in result.stdout and "-m classroom.grade \"subs\"" in result.stdout
    result = subprocess.run(["make", "-n", "assignments"], cwd=ROOT, capture_output=True, text=True)
    assert "-m classroom.build" in result.stdout


# ---- MyST -> Markdown ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def index():
    return myst.index_book(build.book_notebooks(), ROOT / "book" / "references.bib")


def test_roles_become_numbers_titles_and_author_year(index):
    stem = "03_wasserstein"
    (eq_label, (page, number)) = next((k, v) for k, v in index.equations.items() if v[0] == stem)
    out = myst.to_markdown(f"see {{eq}}`{eq_label}` and {{ref}}`ch-minimax` and {{ref}}`the chapter <ch-penalty>` "
                           "{cite}`arjovsky2017wgan,gulrajani2017improved`", index, stem)
    assert f"see ({number})" in out
    assert f"*{index.titles['ch-minimax']}*" in out and "the chapter" in out
    assert "(Arjovsky et al., 2017; Gulrajani et al., 2017)" in out


def test_an_equation_of_another_page_names_that_page(index):
    label, (page, number) = next((k, v) for k, v in index.equations.items() if v[0] == "01_minimax")
    out = myst.to_markdown(f"{{eq}}`{label}`", index, "03_wasserstein")
    assert out == f"({number}) of *{index.pages['01_minimax']}*"


def test_labelled_equations_get_tags_and_targets_vanish(index):
    label = next(k for k, v in index.equations.items() if v[0] == "01_minimax")
    out = myst.to_markdown(f"(ch-minimax)=\n# T\n\n$$\nx = 1\n$$ ({label})\n", index, "01_minimax")
    assert out == f"# T\n\n$$\nx = 1\n\\tag{{{index.equations[label][1]}}}\n$$\n"


@pytest.mark.parametrize("text, match", [
    ("{numref}`fig-x`", r"role \{numref\}"),
    ("```{note}\nhi\n```", r"directive \{note\}"),
    ("{cite}`nobody2099`", "not in references.bib"),
    ("{ref}`no-such-label`", "not a label of the book"),
    ("{eq}`no-such-eq`", "not a labelled equation"),
])
def test_unknown_markup_is_refused_not_passed_through(index, text, match):
    with pytest.raises(myst.MystError, match=match):
        myst.to_markdown(text, index, "01_minimax")


def test_the_bibliography_lists_what_the_page_cites(index):
    out = myst.to_markdown("```{bibliography}\n:filter: docname in docnames\n```", index, "x",
                           cited=["arjovsky2017wgan"])
    assert out.startswith("- Arjovsky, Chintala, Bottou (2017). *Wasserstein") and out.count("- ") == 1
