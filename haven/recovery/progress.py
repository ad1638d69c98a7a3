"""How long-running maintenance reports progress, without the services knowing about terminals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Advance = Callable[[int], None]


class Progress(Protocol):
    def task(self, description: str, total: int | None) -> Advance:
        """Start a step of `total` units (None: unknown); returns the function that reports units done."""


class Silent:
    """Progress that reports nothing (tests, library use)."""

    def task(self, description: str, total: int | None) -> Advance:
        return lambda _n: None
