"""Model and dataset cards: the README's YAML front matter, read defensively."""

from __future__ import annotations

import re
from typing import Any

import yaml

from haven.repos.library import Files, Inferred, infer

MAX_FRONT_MATTER = 1_000_000
MAX_ALIASES = 100
MAX_DEPTH = 50
MAX_VALUES = 100_000  # values in the metadata once aliases are expanded (a "billion laughs" card has 10**9)
_OPEN = re.compile(r"\A\ufeff?---[ \t]*\r?\n")
_CLOSE = re.compile(r"^---[ \t]*\r?$", re.M)


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


# libyaml parses about six times faster and refuses nesting past 1000 levels itself; the pure-Python
# loader (when PyYAML was built without it) counts aliases and depth as it composes. Either way _jsonable
# bounds depth and the size aliases expand to.
_LOADER: type = getattr(yaml, "CSafeLoader", None) or _BoundedLoader


def front_matter(text: str) -> str | None:
    """The YAML between a first line `---` and the next line `---` (None without one): two anchored
    searches, linear in the text (a lazy `.*?` across a 10 MB card took seconds)."""
    opening = _OPEN.match(text)
    if opening is None:
        return None
    closing = _CLOSE.search(text, opening.end())
    if closing is None:
        return None
    body = text[opening.end() : closing.start()]
    return body[:-2] if body.endswith("\r\n") else body[:-1] if body.endswith("\n") else body


def parse_card(text: str) -> dict[str, Any]:
    """The card's metadata (empty if it has none); CardError if the YAML is invalid."""
    raw = front_matter(text)
    if raw is None:
        return {}
    if len(raw) > MAX_FRONT_MATTER:
        raise CardError("YAML metadata is larger than 1 MB")
    try:
        data = yaml.load(raw, Loader=_LOADER)
    except yaml.YAMLError as e:
        raise CardError(f"Invalid YAML in README.md metadata: {e}") from None
    except (ValueError, RecursionError) as e:  # e.g. an integer of more digits than Python converts
        raise CardError(f"Invalid YAML in README.md metadata: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CardError("README.md metadata must be a YAML mapping")
    return _jsonable(data, [MAX_VALUES], 0)


def _jsonable(value: Any, budget: list[int], depth: int) -> Any:
    """Dates and other YAML scalars become strings, so the metadata is JSON. Aliases are expanded into
    copies here, so the budget of values bounds what a small card with nested aliases can blow up to."""
    budget[0] -= 1
    if budget[0] < 0:
        raise CardError(f"README.md metadata expands to more than {MAX_VALUES} values")
    if depth > MAX_DEPTH:
        raise CardError("YAML nested too deeply")
    if isinstance(value, dict):
        return {str(k): _jsonable(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v, budget, depth + 1) for v in value]
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


BASE_MODEL_RELATIONS = ("adapter", "merge", "quantized", "finetune")


def derive(
    card: dict[str, Any], repo_type: str = "model", files: Files | None = None
) -> tuple[list[str], str | None, str | None]:
    """Tags, library_name and pipeline_tag the card implies, completed from the files where it is silent.

    Tags as the Hub derives them: the card's own tags, the library and task, `license:*`, languages
    (bare codes on models, `language:*` on datasets), `dataset:*`, `base_model:*` (plus
    `base_model:<relation>:*` when the card's base_model_relation, or the files, say how it derives),
    file formats (`safetensors`, `gguf`, `onnx`, ... on models, `format:*` on datasets) and the
    config's model_type. No `region:*` tag: a self-hosted hub has one region."""
    inferred = infer(files, repo_type) if files is not None else Inferred()
    library = _text(card.get("library_name")) or inferred.library
    pipeline = _text(card.get("pipeline_tag")) or inferred.pipeline
    tags = _as_list(card.get("tags"))
    if library:
        tags.append(library)
    tags.extend(inferred.tags)
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
    tags.extend(_base_model_tags(card, files))
    seen: dict[str, None] = {}
    for t in tags:
        if t and len(t) <= 128:
            seen.setdefault(t, None)
    return list(seen), library, pipeline


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _base_model_tags(card: dict[str, Any], files: Files | None) -> list[str]:
    bases = _as_list(card.get("base_model"))
    adapter = files.json.get("adapter_config.json") if files is not None else None
    if not bases and adapter is not None and _text(adapter.get("base_model_name_or_path")):
        bases = [adapter["base_model_name_or_path"]]
    relation = _text(card.get("base_model_relation"))
    if relation not in BASE_MODEL_RELATIONS:
        relation = None
        if adapter is not None:
            relation = "adapter"
        elif len(bases) > 1:
            relation = "merge"
        elif files is not None and ".gguf" in files.extensions():
            relation = "quantized"
    tags = [f"base_model:{b}" for b in bases]
    if relation:
        tags.extend(f"base_model:{relation}:{b}" for b in bases)
    return tags
