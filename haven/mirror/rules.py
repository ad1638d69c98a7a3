"""Which upstream, if any, may supply a repository: the configured upstreams and their allow/deny rules."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from haven.config import Settings


@dataclass(frozen=True)
class Upstream:
    """One upstream hub with the rules for what Haven may take from it."""

    url: str
    token: str | None = None
    allow: tuple[str, ...] = ("*",)
    deny: tuple[str, ...] = ()
    repo_types: tuple[str, ...] = ("model", "dataset")
    licenses: tuple[str, ...] = ()  # empty: any licence

    def admits(self, repo_type: str, full_id: str) -> bool:
        """Whether the id and type pass the rules (the licence is checked once the card is known)."""
        if repo_type not in self.repo_types:
            return False
        if any(fnmatch.fnmatchcase(full_id, pattern) for pattern in self.deny):
            return False
        return any(fnmatch.fnmatchcase(full_id, pattern) for pattern in self.allow)

    def admits_license(self, info: dict[str, Any]) -> bool:
        if not self.licenses:
            return True
        return bool(set(licenses_of(info)) & set(self.licenses))


def licenses_of(info: dict[str, Any]) -> list[str]:
    """The licences an upstream repo info names, from its card and its `license:*` tags."""
    card = info.get("cardData") or {}
    found = card.get("license")
    names = [found] if isinstance(found, str) else [x for x in found or [] if isinstance(x, str)]
    names += [t.removeprefix("license:") for t in info.get("tags") or [] if str(t).startswith("license:")]
    return names


@dataclass(frozen=True)
class MirrorConfig:
    upstreams: tuple[Upstream, ...] = field(default_factory=tuple)
    require_login: bool = False
    ttl: float = 60.0
    timeout: float = 5.0

    @property
    def enabled(self) -> bool:
        return bool(self.upstreams)

    def upstream_for(self, repo_type: str, full_id: str) -> Upstream | None:
        """The first upstream whose rules admit the repository."""
        return next((u for u in self.upstreams if u.admits(repo_type, full_id)), None)

    def by_url(self, url: str) -> Upstream | None:
        return next((u for u in self.upstreams if u.url == url), None)


_CACHE: dict[int, MirrorConfig] = {}


def config(settings: Settings) -> MirrorConfig:
    """The mirror configuration of these settings (read once per settings object)."""
    found = _CACHE.get(id(settings))
    if found is None:
        found = _CACHE[id(settings)] = load(settings)
    return found


def load(settings: Settings) -> MirrorConfig:
    base = {
        "allow": tuple(settings.mirror_allow),
        "deny": tuple(settings.mirror_deny),
        "repo_types": tuple(settings.mirror_repo_types),
        "licenses": tuple(settings.mirror_licenses),
    }
    upstreams: list[Upstream] = []
    if settings.mirror_config is not None:
        upstreams = [_upstream(entry, base) for entry in _read(settings.mirror_config).get("upstreams", [])]
    elif settings.mirror_upstream:
        upstreams = [Upstream(url=settings.mirror_upstream.rstrip("/"), token=settings.mirror_upstream_token, **base)]
    return MirrorConfig(tuple(upstreams), settings.mirror_require_login, settings.mirror_ttl, settings.mirror_timeout)


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text()
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with `upstreams`")
    return data


def _upstream(entry: dict[str, Any], base: dict[str, tuple[str, ...]]) -> Upstream:
    if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
        raise ValueError("every upstream needs a `url`")
    rules = {key: tuple(entry.get(key, default)) for key, default in base.items()}
    return Upstream(url=entry["url"].rstrip("/"), token=entry.get("token"), **rules)
