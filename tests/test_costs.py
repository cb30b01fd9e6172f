"""gl.costs: the measured cost of each notebook, printed by its first cell."""
import json

import pytest
import torch

import gan_lab as gl
from classroom.build import book_notebooks

TABLE = {"machines": {"cpu": "a test box"},
         "notebooks": {"nb": {"cpu": {"quick": 12.0, "book": 300.0}, "cuda:Tesla T4": {"full": 7200.0}}}}


def test_every_notebook_of_the_book_has_measured_cpu_costs_at_quick_and_book():
    table = gl.costs.load()
    for path in book_notebooks():
        entry = table["notebooks"].get(path.stem, {}).get("cpu", {})
        assert {"quick", "book"} <= set(entry), f"{path.stem}: no CPU measurement at quick and book: {entry}"
        # quick is never dearer than book beyond timing noise (the Dirac-GAN page costs the same at both)
        assert 0 < entry["quick"] <= 1.5 * entry["book"], f"{path.stem}: quick dearer than book: {entry}"


def test_every_notebook_prints_its_own_costs_in_its_first_code_cell():
    for path in book_notebooks():
        first = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        assert f'gl.costs.report("{path.stem}");' in "".join(first["source"]), path


def test_the_report_gives_measured_figures_and_says_what_was_not_measured(monkeypatch, capsys):
    monkeypatch.setenv("GAN_LAB_BUDGET", "book")
    text = gl.costs.report("nb", device=torch.device("cpu"), costs=TABLE)
    assert "measured on a test box" in text
    assert "quick: 12 s (measured)" in text and "book : 5 min (measured)  <- this run" in text
    assert "full : not measured on cpu (measured: 2.0 h on cuda:Tesla T4)" in text
    assert capsys.readouterr().out.strip() == text


def test_an_unknown_notebook_is_reported_unmeasured_and_a_bad_argument_refused():
    assert "nope has not been measured yet" in gl.costs.report("nope", costs=TABLE)
    with pytest.raises(ValueError, match="notebook must be a notebook's name, got 3"):
        gl.costs.report(3, costs=TABLE)
    with pytest.raises(ValueError, match="budget must be one of"):
        gl.costs.seconds("nb", "huge", "cpu", TABLE)
    assert gl.costs.seconds("nb", "full", "cpu", TABLE) is None
