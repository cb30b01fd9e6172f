"""Every chapter runs for a user who installs only gan_lab (no book or test extras) into a Python that has torch
and a Jupyter kernel, as on Colab or a lab machine: its declared runtime dependencies must be enough.

A fresh virtual environment gets torch first (the same spec as scripts/setup.sh), then ``pip install <repo>``
(not editable, no extras) and the kernel (ipykernel, nbclient); each chapter then executes there at the quick
budget. A chapter that imports something gan_lab does not declare fails here with ModuleNotFoundError.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# the chapters and the assignments: students open both with nothing but the package installed
CHAPTERS = sorted(p.name for p in (ROOT / "book").glob("[0-9][0-9]_*.ipynb")) + \
    sorted(f"assignments/{p.name}" for p in (ROOT / "book" / "assignments").glob("*.ipynb"))
TORCH_SPEC = os.environ.get("GAN_LAB_TORCH_SPEC", "torch==2.13.0")

RUN_NOTEBOOK = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
"""


def _pip(python: Path, *args: str) -> None:
    proc = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"pip install {' '.join(args)} failed:\n{proc.stderr[-3000:]}"


@pytest.fixture(scope="module")
def user_python(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("user-env")
    venv.EnvBuilder(with_pip=True).create(home / "venv")
    python = home / "venv" / "bin" / "python"
    _pip(python, TORCH_SPEC)
    source = home / "source"   # a copy, so that building the wheel leaves nothing in the repository
    for name in ("pyproject.toml", "README.md"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "gan_lab", source / "gan_lab", ignore=shutil.ignore_patterns("__pycache__"))
    _pip(python, str(source))                # the package alone: its runtime dependencies, no extras
    _pip(python, "ipykernel", "nbclient", "nbformat")   # the kernel a Jupyter brings
    return python


def test_the_package_alone_declares_what_the_chapters_import(user_python):
    proc = subprocess.run([str(user_python), "-c", "import gan_lab, ipywidgets, scipy, matplotlib; print(gan_lab.__file__)"],
                          capture_output=True, text=True, cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert "site-packages" in proc.stdout, f"gan_lab imported from {proc.stdout!r}, not the installed copy"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_with_only_the_runtime_dependencies(user_python, chapter, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "MPLBACKEND"))}
    env.update(GAN_LAB_BUDGET="quick", GAN_LAB_REUSE="0", GAN_LAB_RUN_DIR=str(tmp_path / "runs"),
               PATH=f"{user_python.parent}{os.pathsep}{env.get('PATH', '')}")
    proc = subprocess.run([str(user_python), "-c", RUN_NOTEBOOK, str(ROOT / "book" / chapter), str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, f"{chapter} failed with only gan_lab's runtime dependencies:\n{proc.stderr[-4000:]}"
