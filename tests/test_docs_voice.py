"""The documents speak of the project only: README.md, docs/*.md, the notebooks (markdown
and code cells) and the docstrings and comments under sim/ point to no folder outside the
repository and carry no narrative of how the project was developed (work sessions, a
brief, the machine it was built on, first-person notes)."""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What may not appear, by name. Word boundaries keep ordinary words out: ``briefly``,
#: ``session_state``, an author's initial such as ``Stoica, I.,``, the symbol ``I_i``.
RULES: dict[str, re.Pattern[str]] = {
    "reference outside the project": re.compile(r"\.\./shared|shared/seeds", re.IGNORECASE),
    "'session' (a work session)": re.compile(r"\bsessions?\b", re.IGNORECASE),
    "'brief'": re.compile(r"\bbrief(?:s|ed|ing)?\b", re.IGNORECASE),
    "the development machine": re.compile(
        r"\bthis VM\b|\bdevelopment (?:VM|machine)\b", re.IGNORECASE
    ),
    "'the CEO'": re.compile(r"\bthe CEO\b", re.IGNORECASE),
    "first person singular": re.compile(
        r"(?<![\w.'’])I(?:['’](?:m|ve|d|ll))?[ \t]+[a-z]|(?<![\w.])I['’]m\b|\b[Mm]y\b"
    ),
    "'seed article' (a source by its folder)": re.compile(r"\bseed articles?\b", re.IGNORECASE),
    "note to self": re.compile(r"\b(?:TODO|FIXME)\b"),
}

#: Hits that use a word in its ordinary meaning inside the project, as (file, pattern):
#: a match of a rule that lies inside a match of the pattern, in that file, is allowed.
ALLOWED: list[tuple[str, re.Pattern[str]]] = [
    # The explorer's run cache: "session" is Streamlit's browser session (st.session_state).
    ("sim/app/session.py", re.compile(r"\bsession\b")),
]


def hits(path: str, line: str) -> Iterator[tuple[str, str]]:
    """Every (rule, matched text) of ``line`` of the file at ``path`` (relative to the
    repository) that no entry of ``ALLOWED`` covers."""
    allowed = [
        m.span() for file, pattern in ALLOWED if file == path for m in pattern.finditer(line)
    ]
    for rule, pattern in RULES.items():
        for m in pattern.finditer(line):
            if not any(start <= m.start() and m.end() <= end for start, end in allowed):
                yield rule, m.group()


# --------------------------------------------------------------------------- the texts


def markdown_lines(path: Path) -> Iterator[tuple[str, str]]:
    """(where, line) for every line of a markdown file."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        yield f"line {number}", line


def notebook_lines(path: Path) -> Iterator[tuple[str, str]]:
    """(where, line) for every line of the markdown and code cells of a notebook."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for index, cell in enumerate(cells, 1):
        if cell["cell_type"] not in ("markdown", "code"):
            continue
        source = cell["source"]
        text = "".join(source) if isinstance(source, list) else source
        for number, line in enumerate(text.splitlines(), 1):
            yield f"cell {index} ({cell['cell_type']}), line {number}", line


def python_lines(path: Path) -> Iterator[tuple[str, str]]:
    """(where, line) for every line of the comments and docstrings of a Python file. A
    docstring is any statement that is a lone string: module, class and function
    docstrings and attribute docstrings."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    numbers: set[int] = set()
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            numbers.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    for number in sorted(numbers | comments.keys()):
        text = lines[number - 1] if number in numbers else comments[number]
        yield f"line {number}", text


def texts() -> list[Path]:
    """Every file the rules apply to."""
    return [
        ROOT / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
        *sorted((ROOT / "notebooks").glob("*.ipynb")),
        *sorted((ROOT / "sim").rglob("*.py")),
    ]


def lines_of(path: Path) -> Iterator[tuple[str, str]]:
    """(where, line) for the part of ``path`` the rules read."""
    if path.suffix == ".md":
        return markdown_lines(path)
    if path.suffix == ".ipynb":
        return notebook_lines(path)
    return python_lines(path)


# --------------------------------------------------------------------------- tests


def test_every_kind_of_text_is_read():
    paths = texts()
    for suffix in (".md", ".ipynb", ".py"):
        assert any(p.suffix == suffix for p in paths), f"no {suffix} file found"
    for file, _ in ALLOWED:
        assert (ROOT / file).is_file(), f"ALLOWED names {file}, which does not exist"


@pytest.mark.parametrize("path", texts(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_text_speaks_of_the_project_only(path: Path):
    name = path.relative_to(ROOT).as_posix()
    found = [
        f"{name}, {where}: {rule} ({text!r}): {line.strip()}"
        for where, line in lines_of(path)
        for rule, text in hits(name, line)
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        "see `../shared/seeds/article.txt`",
        "measured 1.83-2.0 this session",
        "Session 4 ran on a faster machine",
        "the project brief for this document",
        "on this VM the step takes 3 ms",
        "on the 2-core development VM",
        "as the CEO asked",
        "I have not checked the tables",
        "I'm not sure",
        "my own reading",
        "Both seed articles say so",
        "# TODO: faster",
    ],
)
def test_rules_catch_development_narrative(line):
    assert list(hits("docs/EXAMPLE.md", line)), line


@pytest.mark.parametrize(
    "line",
    [
        "Cui, J., Chiang, W.-L., Stoica, I., Hsieh, C.-J. (2024).",
        "w_i = capacity_i × I_i × n_online(subnet(i))",
        'st.session_state["last_run"] = key',
        "briefly: the market clears every day",
        "Type I: the symbol",
        "the seeds of a sweep",
        "myopic nodes",
    ],
)
def test_rules_spare_ordinary_words(line):
    assert not list(hits("docs/EXAMPLE.md", line)), line


def test_allowed_words_are_allowed_only_where_listed():
    line = "The most recent run of this session, if any."
    assert not list(hits("sim/app/session.py", line))
    assert list(hits("sim/app/other.py", line))
