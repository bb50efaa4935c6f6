"""The documentation's pointers are checked, not trusted: every `docs/<page>.md, "Section"` names a
heading that exists (whole, or its part before a colon: "Failover" for "Failover: how long ..."),
every repository path a page or a docstring names exists, and nothing points outside the
repository (a clone must hold everything its files refer to)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What ships in the repository (tracked sources and docs); build and cache folders stay out.
SHIPPED = ("README.md", "Makefile", "Dockerfile", "pyproject.toml", "docs", "deploy", "schemas",
           "streams", "tests")  # fmt: skip
TEXT_SUFFIXES = frozenset({".py", ".md", ".toml", ".yaml", ".yml", ".json", ".sh", ".xml", ".txt"})
SKIPPED_DIRS = frozenset({"__pycache__", "schemas"})  # streams/schemas links to schemas/

SECTION_REFERENCE = re.compile(r'(docs/[a-z_]+\.md),\s+"([^"]+)"')
REPOSITORY_PATH = re.compile(
    r"(?<![\w./-])(?:streams|tests|docs|deploy|schemas)/[\w./-]*\.(?:py|md|toml|ya?ml|json|sh|xml)"
)
# Built from parts so that this file does not match itself.
OUTSIDE_POINTERS = re.compile(
    "|".join(("shared" + "/", "DESIGN" + r"\.md", r"\b(?i:issue) [0-9]", "\u00a7"))
)


def shipped_files() -> Iterator[Path]:
    for name in SHIPPED:
        top = ROOT / name
        if top.is_file():
            yield top
            continue
        for path in sorted(top.rglob("*")):
            parts = path.relative_to(top).parts
            if any(part in SKIPPED_DIRS or part.startswith(".") for part in parts[:-1]):
                continue
            if path.is_file() and not path.is_symlink() and path.suffix in TEXT_SUFFIXES:
                yield path


def text(path: Path) -> str:
    return path.read_text("utf-8", errors="replace")


def headings(page: Path) -> set[str]:
    return {line.lstrip("#").strip() for line in text(page).splitlines() if line.startswith("#")}


def section_names(page: Path) -> set[str]:
    """What a reference may call a section: its heading, or the heading's part before `: `."""
    return {name for heading in headings(page) for name in (heading, heading.split(": ", 1)[0])}


def documentation_and_code() -> list[Path]:
    """Where a stale path misleads a reader: Markdown pages and the package's own code."""
    return [path for path in shipped_files()
            if path.suffix == ".md" or path.is_relative_to(ROOT / "streams")]  # fmt: skip


def test_every_section_reference_names_an_existing_heading() -> None:
    found, broken = 0, []
    for path in shipped_files():
        for page, wrapped in SECTION_REFERENCE.findall(text(path)):
            found += 1
            section = " ".join(wrapped.split())  # a reference may wrap inside a docstring
            if section not in section_names(ROOT / page):
                broken.append(f"{path.relative_to(ROOT)}: {page}, {section!r}")
    assert found, "no section reference found: the pattern no longer matches the docs"
    assert broken == []


@pytest.mark.parametrize("path", documentation_and_code(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_named_exists(path: Path) -> None:
    missing = sorted({named for named in REPOSITORY_PATH.findall(text(path))
                      if not (ROOT / named).exists()})  # fmt: skip
    assert missing == []


def test_nothing_points_outside_the_repository() -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in shipped_files()
        for number, line in enumerate(text(path).splitlines(), start=1)
        if OUTSIDE_POINTERS.search(line)
    ]
    assert hits == []


def test_design_page_has_the_sections_the_code_points_at() -> None:
    expected = {
        "Data flow",
        "Events and outcomes",
        "Rules and windows",
        "Configuration",
        "Alerts and dead letters",
        "The worker: whole fetches around Faust's stream",
        "Delivery guarantees",
        "State: format, bounds and eviction",
        "Scaling by partitions",
        "Rooms of the code",
        "Where each contract lives",
    }
    assert expected <= headings(ROOT / "docs" / "design.md")


def test_readme_sends_readers_to_the_design_page() -> None:
    where_next = text(ROOT / "README.md").split("## Where to read next", 1)[1].split("\n## ")[0]
    assert "docs/design.md" in where_next
