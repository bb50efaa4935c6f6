"""Rewrite README's performance table from bench-results/results.json (never typed by hand).

Run after `make bench`: .venv/bin/python -m tests.perf.readme_table [--results PATH] [--readme PATH]

The table sits between the START and END markers in README.md; everything else is left alone.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import orjson

from tests.perf.report import rows, shown

START = "<!-- bench-table:start (python -m tests.perf.readme_table) -->"
END = "<!-- bench-table:end -->"


def markdown_table(doc: dict) -> str:
    parameters, environment = doc.get("parameters", {}), doc.get("environment", {})
    loads = [environment.get("load_average_at_start"), environment.get("load_average_at_end")]
    load = " → ".join(f"{entry[0]:.1f}" for entry in loads if entry)
    lines = [
        f"`make bench`: {shown(parameters.get('events'))} events, "
        f"{shown(parameters.get('borrowers'))} borrowers, {environment.get('cpus', '—')} cores, "
        f"Python {environment.get('python', '—')}, Kafka {environment.get('kafka', '—')}, "
        f"1-minute load {load or '—'}, {shown(doc.get('total_wall_s'))} s in all.",
        "",
        "| figure | value | target |",
        "|---|---|---|",
    ]
    for row in rows(doc):
        value = shown(row.value) + (f" {row.unit}" if row.unit and row.value is not None else "")
        lines.append(f"| {row.name} | {value} | {row.target} |")
    return "\n".join(lines)


def rewrite(readme: str, table: str) -> str:
    """`readme` with the text between the markers replaced by `table`."""
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"README has no {START} … {END} markers")
    return f"{head}{START}\n{table}\n{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("bench-results/results.json"))
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    args = parser.parse_args()
    table = markdown_table(orjson.loads(args.results.read_bytes()))
    text = rewrite(args.readme.read_text(encoding="utf-8"), table)
    temporary = args.readme.with_suffix(".md.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, args.readme)
    print(table)


if __name__ == "__main__":
    main()
