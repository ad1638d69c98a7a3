"""A converted split's Parquet files as the readers see them: paths, row counts, search index, cached footers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyarrow.parquet as pq

from haven.errors import HavenError

ROW_IDX = "__haven_row_idx"


class QueryTimeout(HavenError):
    status = 504
    code = "QueryTimeout"


@dataclass(frozen=True)
class SplitFiles:
    """A split's Parquet files on local disk, in order, with their row counts."""

    paths: tuple[Path, ...]
    rows: tuple[int, ...]
    index: Path | None = None  # the split's search index (search_index.py), if it has one
    index_columns: tuple[str, ...] = ()  # the text columns it covers

    @property
    def total(self) -> int:
        return sum(self.rows)


@lru_cache(maxsize=256)
def footer(path: str) -> pq.FileMetaData:
    """Footers are immutable (files are content-addressed), so they are read once per process."""
    return pq.read_metadata(path)
