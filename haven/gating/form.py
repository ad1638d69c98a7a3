"""The request form a gated repository's card declares (`extra_gated_fields`), and checking answers against it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from haven.errors import BadRequest

MAX_VALUE = 1000
MAX_FIELDS = 50


@dataclass(frozen=True)
class Field:
    name: str
    kind: str  # text | checkbox | select | country | date_picker (shown as text)
    options: tuple[str, ...] = ()


def card_fields(card_data: dict[str, Any] | None) -> list[Field]:
    """The fields the card asks for; malformed entries are skipped (a card is user input, the form must render)."""
    raw = (card_data or {}).get("extra_gated_fields")
    if not isinstance(raw, dict):
        return []
    fields = []
    for name, spec in list(raw.items())[:MAX_FIELDS]:
        if isinstance(spec, str):
            fields.append(Field(str(name), spec))
        elif isinstance(spec, dict) and spec.get("type") == "select" and isinstance(spec.get("options"), list):
            options = tuple(str(o.get("value", o.get("label")) if isinstance(o, dict) else o) for o in spec["options"])
            fields.append(Field(str(name), "select", options))
        elif isinstance(spec, dict) and isinstance(spec.get("type"), str):
            fields.append(Field(str(name), spec["type"]))
    return fields


def prompt(card_data: dict[str, Any] | None) -> str | None:
    value = (card_data or {}).get("extra_gated_prompt")
    return value if isinstance(value, str) else None


def check_answers(fields: list[Field], answers: dict[str, Any]) -> dict[str, Any] | None:
    """The answers to store: every declared field answered (checkboxes ticked), nothing undeclared."""
    known = {f.name for f in fields}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise BadRequest(f"Unknown access request fields: {', '.join(unknown)}")
    stored: dict[str, Any] = {}
    for f in fields:
        value = answers.get(f.name)
        if f.kind == "checkbox":
            if value not in (True, "on", "true", "1", "yes"):
                raise BadRequest(f"You must tick '{f.name}' to ask for access")
            stored[f.name] = True
            continue
        if not isinstance(value, str) or not value.strip():
            raise BadRequest(f"'{f.name}' is required")
        value = value.strip()
        if len(value) > MAX_VALUE:
            raise BadRequest(f"'{f.name}' is longer than {MAX_VALUE} characters")
        if f.options and value not in f.options:
            raise BadRequest(f"'{f.name}' must be one of {', '.join(f.options)}")
        stored[f.name] = value
    return stored or None
