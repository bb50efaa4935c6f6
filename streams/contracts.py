"""The JSON Schemas of every topic reachwatch reads or writes, as shipped with the package.

`schemas/` at the repository's top is the contract; the wheel carries the same files as package
data (`streams/schemas` links to it in a checkout), so a downstream service can validate against
exactly the version it installed:

    from streams.contracts import schema
    jsonschema.validate(alert, schema("alert.v1"))
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

SCHEMA_NAMES: tuple[str, ...] = ("call_attempt.v1", "repayment.v1", "alert.v1", "dead_letter.v1")


@cache
def schema(name: str) -> dict[str, Any]:
    """The JSON Schema `name` (one of `SCHEMA_NAMES`), parsed."""
    if name not in SCHEMA_NAMES:
        raise KeyError(f"no schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    text = resources.files("streams").joinpath("schemas", f"{name}.json").read_text("utf-8")
    parsed: dict[str, Any] = json.loads(text)
    return parsed
