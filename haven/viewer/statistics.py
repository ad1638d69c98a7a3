"""Column statistics (/statistics), computed once per split by the viewer job and stored with it."""

from __future__ import annotations

from typing import Any

from haven.viewer.dataset import Dataset


def answer(ds: Dataset, config: str | None, split: str | None) -> dict[str, Any]:
    s = ds.split(config, split)
    stats = s.get("statistics")
    if stats is None:
        from haven.viewer.dataset import NotReady

        raise NotReady("The statistics of this split are not computed yet")
    return {"num_examples": s["num_rows"], "statistics": stats, "partial": s["partial"]}
