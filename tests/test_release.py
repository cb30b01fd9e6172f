"""scripts/release.py: every chapter installs the gan_lab of its own tree (a tag, never a moving branch), and
nothing tells a user to install the unrelated `gan-lab` from the public index."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "scripts" / "release.py"


def release(*args, root=ROOT):
    return subprocess.run([sys.executable, str(RELEASE), *args, "--root", str(root)], capture_output=True,
                          text=True, timeout=120)


def copy_of_the_tree(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "_config.yml", "gan_lab/__init__.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "book", tmp_path / "book", ignore=shutil.ignore_patterns("_vendor"))
    return tmp_path


def test_every_chapter_is_pinned_to_this_trees_version():
    proc = release("--check")
    assert proc.returncode == 0, proc.stderr


def test_a_drifted_pin_is_caught_and_the_release_step_mends_it(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    chapter = sorted((tree / "book").glob("0*.ipynb"))[2]
    text = chapter.read_text()
    drifted = re.sub(r"@v\d+\.\d+\.\d+", "", text, count=1)     # back to the moving default branch
    assert drifted != text
    chapter.write_text(drifted)
    proc = release("--check", root=tree)
    assert proc.returncode == 1 and f"book/{chapter.name} install line" in proc.stderr
    assert release("0.2.0", root=tree).returncode == 0
    assert release("--check", root=tree).returncode == 0
    assert '__version__ = "0.2.0"' in (tree / "gan_lab" / "__init__.py").read_text()
    assert "  branch: v0.2.0" in (tree / "_config.yml").read_text()
    assert "gan-lab-book @ git+https://github.com/gan-lab/gan-lab@v0.2.0" in chapter.read_text()
    assert release("2.0", root=tree).returncode != 0   # not MAJOR.MINOR.PATCH


def test_nothing_installs_the_unrelated_gan_lab_from_the_index():
    assert re.search(r'^name = "gan-lab-book"$', (ROOT / "pyproject.toml").read_text(), re.M)
    bare = re.compile(r"pip install[^\n\"']*\bgan-lab\b(?!-book)|\"gan-lab @")
    places = [*ROOT.glob("book/*.ipynb"), *ROOT.glob("book/*.md"), ROOT / "README.md"]
    hits = [p.name for p in places if bare.search(p.read_text())]
    assert not hits, f"these tell a user to install the unrelated 'gan-lab': {hits}"
    for path in ROOT.glob("book/0*.ipynb"):   # the install runs on Colab only, before anything else
        first = next(c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        assert '"google.colab" in sys.modules' in "".join(first["source"]), path.name
