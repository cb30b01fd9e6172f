"""The release step: one version, written everywhere a reader's copy of gan_lab is chosen.

    .venv/bin/python scripts/release.py 0.2.0     # set the version and pin every notebook to tag v0.2.0
    .venv/bin/python scripts/release.py --check   # exit 1 if anything disagrees (tests/test_release.py)

A notebook opened on Colab installs gan_lab from the repository. Installing from a branch would give whatever
the branch holds that day, which can disagree with the notebook. So the install line names a tag,
``v<version>``, and the book's Colab buttons open the notebooks *of that tag* (``repository.branch`` in
_config.yml): the notebook a student runs and the package it installs are then one commit. The version lives
in pyproject.toml and gan_lab/__init__.py; this script writes it into both, into every chapter's install
line and into _config.yml, and ``--check`` proves they agree. After running it, commit and tag ``v<version>``.

The distribution is ``gan-lab-book``: the name ``gan-lab`` on the public index belongs to an unrelated
project, so nothing here ever installs a bare ``gan-lab``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]   # --root points elsewhere (the tests use a copy)
DIST = "gan-lab-book"
REPO = "https://github.com/gan-lab/gan-lab"
VERSION_RE = r"\d+\.\d+\.\d+"
# the one install line of a chapter's first code cell
INSTALL_RE = re.compile(r'%pip install -q "[\w-]+ @ git\+' + re.escape(REPO) + r'(?:@[^"]*)?"')


def install_line(version: str) -> str:
    return f'%pip install -q "{DIST} @ git+{REPO}@v{version}"'


def chapters() -> list[Path]:
    """Every notebook a reader or a student opens: the chapters and the assignments."""
    return sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb")) + sorted((ROOT / "book" / "assignments").glob("*.ipynb"))


def first_code_cell(nb: dict) -> dict:
    return next(c for c in nb["cells"] if c["cell_type"] == "code")


def versions() -> dict[str, str]:
    """Where the version is written, and what each place says."""
    found = {}
    m = re.search(r'^version = "(' + VERSION_RE + ')"', (ROOT / "pyproject.toml").read_text(), re.M)
    found["pyproject.toml"] = m.group(1) if m else "?"
    m = re.search(r'^__version__ = "(' + VERSION_RE + ')"', (ROOT / "gan_lab" / "__init__.py").read_text(), re.M)
    found["gan_lab/__init__.py"] = m.group(1) if m else "?"
    m = re.search(r"^  branch: v(" + VERSION_RE + r")\s*$", (ROOT / "_config.yml").read_text(), re.M)
    found["_config.yml repository.branch"] = m.group(1) if m else "?"
    for path in chapters():
        source = "".join(first_code_cell(json.loads(path.read_text()))["source"])
        m = re.search(r'"' + re.escape(DIST) + r" @ git\+" + re.escape(REPO) + r"@v(" + VERSION_RE + r')"', source)
        found[f"{path.relative_to(ROOT)} install line"] = m.group(1) if m else "?"
    return found


def problems() -> list[str]:
    found = versions()
    want = found["pyproject.toml"]
    return [f"{where}: {got!r}, expected {want!r}" for where, got in found.items() if got != want]


def write(version: str) -> None:
    if not re.fullmatch(VERSION_RE, version):
        raise SystemExit(f"release: version {version!r} is not MAJOR.MINOR.PATCH")
    for name, pattern, repl in (
            ("pyproject.toml", r'^version = "[^"]*"', f'version = "{version}"'),
            ("gan_lab/__init__.py", r'^__version__ = "[^"]*"', f'__version__ = "{version}"'),
            ("_config.yml", r"^  branch: .*$", f"  branch: v{version}")):
        path = ROOT / name
        text, n = re.subn(pattern, repl, path.read_text(), count=1, flags=re.M)
        if n != 1:
            raise SystemExit(f"release: no version line found in {name}")
        path.write_text(text)
    for path in chapters():
        nb = json.loads(path.read_text())
        cell = first_code_cell(nb)
        source = "".join(cell["source"])
        new, n = INSTALL_RE.subn(install_line(version), source)
        if n != 1:
            raise SystemExit(f"release: {path.name}'s first code cell has {n} install lines, expected 1")
        cell["source"] = new.splitlines(keepends=True)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def main() -> int:
    global ROOT
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("version", nargs="?", help="MAJOR.MINOR.PATCH to write everywhere")
    ap.add_argument("--check", action="store_true", help="only check that every place agrees")
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1], help="the repository (default: this one)")
    args = ap.parse_args()
    ROOT = args.root.resolve()
    if not args.check:
        if not args.version:
            ap.error("give a version, or --check")
        write(args.version)
    bad = problems()
    for line in bad:
        print(f"release: {line}", file=sys.stderr)
    if not bad:
        print(f"release: every notebook installs {DIST} v{versions()['pyproject.toml']}, the version of this tree")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
