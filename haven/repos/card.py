"""Model and dataset cards: the README's YAML front matter, read defensively."""

from __future__ import annotations

import re
from typing import Any

import yaml

MAX_FRONT_MATTER = 1_000_000
MAX_ALIASES = 100
MAX_DEPTH = 50
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)(?:\r?\n)?^---[ \t]*$", re.S | re.M)


class CardError(ValueError):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses alias bombs and absurd nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise CardError("too many YAML aliases")
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise CardError("YAML nested too deeply")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def front_matter(text: str) -> str | None:
    m = _FRONT_MATTER.match(text)
    return m.group(1) if m else None


def parse_card(text: str) -> dict[str, Any]:
    """The card's metadata (empty if it has none); CardError if the YAML is invalid."""
    raw = front_matter(text)
    if raw is None:
        return {}
    if len(raw) > MAX_FRONT_MATTER:
        raise CardError("YAML metadata is larger than 1 MB")
    try:
        data = yaml.load(raw, Loader=_BoundedLoader)
    except yaml.YAMLError as e:
        raise CardError(f"Invalid YAML in README.md metadata: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CardError("README.md metadata must be a YAML mapping")
    return _jsonable(data)


def _jsonable(value: Any) -> Any:
    """Dates and other YAML scalars become strings, so the metadata is JSON."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int | float)]
    return [str(value)]


# Dataset card keys the Hub turns into `key:value` tags (list_datasets(language=..., task_categories=...) filters on them).
DATASET_TAG_KEYS = ("task_categories", "task_ids", "size_categories", "multilinguality", "language_creators")


def derive(card: dict[str, Any], repo_type: str = "model") -> tuple[list[str], str | None, str | None]:
    """Tags, library_name and pipeline_tag the card implies."""
    library = card.get("library_name") if isinstance(card.get("library_name"), str) else None
    pipeline = card.get("pipeline_tag") if isinstance(card.get("pipeline_tag"), str) else None
    tags = _as_list(card.get("tags"))
    if library:
        tags.append(library)
    if pipeline:
        tags.append(pipeline)
    for lic in _as_list(card.get("license")):
        tags.append(f"license:{lic}")
    for lang in _as_list(card.get("language")):
        tags.append(f"language:{lang}" if repo_type == "dataset" else lang)
    if repo_type == "dataset":
        for key in DATASET_TAG_KEYS:
            tags.extend(f"{key}:{v}" for v in _as_list(card.get(key)))
    for ds in _as_list(card.get("datasets")):
        tags.append(f"dataset:{ds}")
    for base in _as_list(card.get("base_model")):
        tags.append(f"base_model:{base}")
    seen: dict[str, None] = {}
    for t in tags:
        if t and len(t) <= 128:
            seen.setdefault(t, None)
    return list(seen), library, pipeline
