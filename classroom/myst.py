"""MyST markup -> the plain Markdown and LaTeX that Jupyter and Colab render.

The book's notebooks use a few Jupyter Book constructs a plain notebook cannot show: the roles {eq}, {ref}
and {cite}, the directives {exercise}, {solution-start}/{solution-end} and {bibliography}, labelled display
equations ``$$ ... $$ (label)`` and label targets ``(label)=``. ``to_markdown`` rewrites exactly these,
with the numbers and titles the book gives them (``BookIndex``), and refuses any other role or directive,
so a new construct in a chapter cannot reach a student notebook as raw markup.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BookIndex", "index_book", "to_markdown", "MystError", "ROLE", "DIRECTIVE", "exercise_header"]


class MystError(ValueError):
    """A construct the converter does not know (it would reach a student as raw markup)."""


ROLE = re.compile(r"\{([a-z-]+)\}`([^`]*)`")
DIRECTIVE = re.compile(r"^```\{([a-z-]+)\}[ \t]*(.*)$", re.M)
TARGET = re.compile(r"^\(([A-Za-z0-9_-]+)\)=[ \t]*\n", re.M)
LABELLED_EQUATION = re.compile(r"\$\$(.*?)\$\$[ \t]*\(([A-Za-z0-9_-]+)\)", re.S)
HEADING = re.compile(r"^#+[ \t]+(.+)$", re.M)


@dataclass
class Entry:
    authors: list[str]
    year: str
    title: str
    extra: str = ""

    def short(self) -> str:
        if len(self.authors) == 1:
            names = self.authors[0]
        elif len(self.authors) == 2:
            names = f"{self.authors[0]} and {self.authors[1]}"
        else:
            names = f"{self.authors[0]} et al."
        return f"{names}, {self.year}" if self.year else names


@dataclass
class BookIndex:
    """What the book numbers and names: chapter titles, exercises, equations, bibliography."""

    titles: dict[str, str] = field(default_factory=dict)          # target label -> heading text
    exercises: dict[str, tuple[int, str]] = field(default_factory=dict)  # label -> (number, title)
    equations: dict[str, tuple[str, int]] = field(default_factory=dict)  # label -> (notebook stem, number)
    pages: dict[str, str] = field(default_factory=dict)           # notebook stem -> its title
    bib: dict[str, Entry] = field(default_factory=dict)


def _cells(path: Path) -> list[dict]:
    return json.loads(Path(path).read_text(encoding="utf-8"))["cells"]


def _markdown(path: Path) -> str:
    return "\n\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "markdown")


_ACCENTS = {"'": "\u0301", '"': "\u0308", "`": "\u0300", "^": "\u0302", "~": "\u0303", "c": "\u0327"}


def _latex_accents(text: str) -> str:
    """BibTeX accents as Unicode: {\\'e} -> é, \\"o -> ö."""
    import unicodedata
    out = re.sub(r"\\(['\"`^~c])\s*\{?(\w)\}?", lambda m: m.group(2) + _ACCENTS[m.group(1)], text)
    return unicodedata.normalize("NFC", out)


def _bib_field(body: str, name: str) -> str:
    m = re.search(rf"\b{name}\s*=\s*[{{\"]", body, re.I)
    if not m:
        return ""
    i, depth, out = m.end(), 1, []
    while i < len(body) and depth:
        ch = body[i]
        depth += ch == "{"
        depth -= ch == "}"
        if depth:
            out.append(ch)
        i += 1
    text = _latex_accents("".join(out))
    return re.sub(r"\s+", " ", text.replace("{", "").replace("}", "")).strip().rstrip('"')


def parse_bib(text: str) -> dict[str, Entry]:
    entries = {}
    for m in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,(.*?)(?=\n@|\Z)", text, re.S):
        key, body = m.group(1), m.group(2)
        authors = []
        for a in re.split(r"\s+and\s+", _bib_field(body, "author")):
            a = a.strip()
            if a:
                authors.append(a.split(",")[0].strip() if "," in a else a.split()[-1])
        year = _bib_field(body, "year")
        title = _bib_field(body, "title")
        where = _bib_field(body, "journal") or _bib_field(body, "booktitle") or _bib_field(body, "howpublished")
        entries[key] = Entry(authors or ["Anonymous"], year, title, where)
    return entries


def index_book(notebooks: list[Path], bib_path: Path) -> BookIndex:
    """Number the book's exercises in reading order (as sphinx-exercise does), its equations per page, and
    name its label targets by the heading that follows them."""
    index = BookIndex(bib=parse_bib(Path(bib_path).read_text(encoding="utf-8")))
    n_exercise = 0
    for path in notebooks:
        stem = Path(path).stem
        text = _markdown(path)
        first = HEADING.search(text)
        index.pages[stem] = first.group(1).strip() if first else stem
        for m in TARGET.finditer(text):
            heading = HEADING.search(text, m.end())
            index.titles[m.group(1)] = heading.group(1).strip() if heading else m.group(1)
        for k, m in enumerate(LABELLED_EQUATION.finditer(text), start=1):
            index.equations[m.group(2)] = (stem, k)
        for m in DIRECTIVE.finditer(text):
            if m.group(1) != "exercise":
                continue
            n_exercise += 1
            label = re.match(r"\s*:label:\s*(\S+)", text[m.end():].lstrip("\n"))
            if label is None:
                raise MystError(f"{path}: exercise '{m.group(2)}' has no :label:")
            index.exercises[label.group(1)] = (n_exercise, m.group(2).strip())
    return index


def exercise_header(index: BookIndex, label: str) -> str:
    number, title = index.exercises[label]
    return f"**Exercise {number}** ({title})"


def _cite(index: BookIndex, keys: str) -> str:
    parts = []
    for key in (k.strip() for k in keys.split(",")):
        if key not in index.bib:
            raise MystError(f"{{cite}} key '{key}' is not in references.bib")
        parts.append(index.bib[key].short())
    return "(" + "; ".join(parts) + ")"


def _ref(index: BookIndex, body: str) -> str:
    m = re.fullmatch(r"\s*(.*?)\s*<([^>]+)>\s*", body, re.S)
    text, label = (m.group(1), m.group(2)) if m else (None, body.strip())
    if label in index.exercises:
        return text or f"Exercise {index.exercises[label][0]}"
    if label in index.titles:
        return text or f"*{index.titles[label]}*"
    raise MystError(f"{{ref}} target '{label}' is not a label of the book")


def _eq(index: BookIndex, label: str, stem: str) -> str:
    if label not in index.equations:
        raise MystError(f"{{eq}} label '{label}' is not a labelled equation of the book")
    page, number = index.equations[label]
    return f"({number})" if page == stem else f"({number}) of *{index.pages[page]}*"


def references(index: BookIndex, keys: list[str]) -> str:
    """The references list of one page: every key it cites, in order of first citation."""
    lines = []
    for key in dict.fromkeys(keys):
        e = index.bib[key]
        where = f" {e.extra}." if e.extra else ""
        stop = "" if e.title.endswith(("?", "!", ".")) else "."
        lines.append(f"- {', '.join(e.authors)} ({e.year}). *{e.title}*{stop}{where}")
    return "\n".join(lines)


def cited_keys(text: str) -> list[str]:
    return [k.strip() for m in ROLE.finditer(text) if m.group(1) == "cite" for k in m.group(2).split(",")]


def to_markdown(text: str, index: BookIndex, stem: str, *, cited: list[str] = ()) -> str:
    """One Markdown cell's text with the book's MyST constructs rewritten (``stem``: the page it is on,
    ``cited``: every key the page cites, for its {bibliography})."""
    text = TARGET.sub("", text)
    text = LABELLED_EQUATION.sub(lambda m: f"$${m.group(1).rstrip()}\n\\tag{{{index.equations[m.group(2)][1]}}}\n$$",
                                 text)

    out, pos = [], 0
    for m in DIRECTIVE.finditer(text):
        out.append(text[pos:m.start()])
        name = m.group(1)
        close = text.find("\n```", m.end())
        if close < 0:
            raise MystError(f"unclosed directive {{{name}}} on page {stem}")
        body = text[m.end():close]
        if "```" in body:
            raise MystError(f"a fenced block inside {{{name}}} on page {stem}: the converter cannot nest fences")
        end = close + len("\n```")
        if name == "exercise":
            lines = [ln for ln in body.strip("\n").split("\n")]
            label = next((ln.split(":label:")[1].strip() for ln in lines if ln.strip().startswith(":label:")), None)
            rest = "\n".join(ln for ln in lines if not re.match(r"\s*:[a-z-]+:", ln)).strip("\n")
            if label is None or label not in index.exercises:
                raise MystError(f"exercise without a known :label: on page {stem}")
            out.append(exercise_header(index, label) + "\n\n" + rest)
        elif name == "bibliography":
            out.append(references(index, list(cited)))   # the page's own heading comes before it
        else:
            raise MystError(f"directive {{{name}}} cannot be shown in a plain notebook (page {stem})")
        pos = end
    out.append(text[pos:])
    text = "".join(out)

    def role(m: re.Match) -> str:
        name, body = m.group(1), m.group(2)
        if name == "cite":
            return _cite(index, body)
        if name == "ref":
            return _ref(index, body)
        if name == "eq":
            return _eq(index, body.strip(), stem)
        raise MystError(f"role {{{name}}} cannot be shown in a plain notebook (page {stem})")

    return ROLE.sub(role, text)
