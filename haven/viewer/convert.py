"""The conversion itself, run in a child process with memory and time limits (`python -m haven.viewer.convert
request.json`): `datasets` discovers the configs and splits of a materialised dataset directory exactly as
`load_dataset` would, streams each split as Arrow batches and writes them to Parquet files of bounded size.

Streaming keeps memory to a few row groups whatever the dataset's size; a split larger than `max_bytes`
is cut there and marked partial. Errors are per split, so one malformed file does not hide the others."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROW_GROUP_BYTES = 8 * 1024 * 1024  # in-memory bytes per row group: /rows reads one or two of them per page
ROW_GROUP_ROWS = 8_000  # small enough that a search reads little beyond its matches' row groups
DICTIONARY_BYTES = 16 * 1024  # a column of mostly distinct values (text) falls back to plain: reads ~40% faster
PAGE_BYTES = 16 * 1024  # data pages: a single row is read by decoding one page (pages.py), not its column chunk
PAGE_BATCH = 128  # rows the writer adds to a page at a time (pages are cut after a batch, so at most this over)
INDEX_FILE = "search-index.bin"  # Parquet, named so that no *.parquet pattern takes it for data
FILE_BYTES = 512 * 1024 * 1024  # a new NNNN.parquet file starts beyond this
BATCH_ROWS = 1000
MAX_COLUMNS = 1000
MAX_ERROR = 1000
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


class SplitError(Exception):
    """A split cannot be converted; the message is shown to users."""


@dataclass
class SplitWriter:
    """Writes one split's batches into row groups and files under `directory`."""

    directory: Path
    max_bytes: int
    schema: Any = None
    files: list[dict[str, Any]] = field(default_factory=list)
    num_rows: int = 0
    num_bytes: int = 0
    partial: bool = False
    _writer: Any = None
    _file_bytes: int = 0
    _pending: list[Any] = field(default_factory=list)
    _pending_bytes: int = 0
    _index: Any = None
    _groups: int = 0

    def add(self, table: Any) -> bool:
        """Buffer a batch; False once the size limit is reached (the split is then partial)."""
        held = self.num_bytes + self._pending_bytes
        if held + table.nbytes > self.max_bytes and held > 0:  # the first batch always goes in
            self.partial = True
            return False
        self._pending.append(table)
        self._pending_bytes += table.nbytes
        if self._pending_bytes >= ROW_GROUP_BYTES or _rows(self._pending) >= ROW_GROUP_ROWS:
            self._flush()
        return True

    def close(self) -> None:
        self._flush()
        if self._writer is None:  # an empty split still gets one (empty) file, as datasets expects a file
            self._open()
        self._close_file()

    def _flush(self) -> None:
        import pyarrow as pa

        if not self._pending:
            return
        table = pa.concat_tables(self._pending)
        self._pending, self._pending_bytes = [], 0
        if self._writer is None or self._file_bytes >= FILE_BYTES:
            self._close_file()
            self._open()
        self._writer.write_table(table, row_group_size=table.num_rows)
        self._indexed(table)
        self._file_bytes += table.nbytes
        self.num_rows += table.num_rows
        self.num_bytes += table.nbytes
        self.files[-1]["num_rows"] += table.num_rows

    def _indexed(self, table: Any) -> None:
        """Add the row group just written to the search index (numbered across the split's files)."""
        from haven.viewer.search_index import IndexWriter

        if self._index is None:
            self._index = IndexWriter(self.directory / ".index-work", self.schema)
        self._index.add(table, self._groups, self.num_rows)
        self._groups += 1

    def finish_index(self) -> dict[str, Any] | None:
        """Write the search index beside the files; its description (None: nothing to index)."""
        if self._index is None:
            return None
        info = self._index.finish(self.directory / INDEX_FILE)
        return None if info is None else {**info, "row_groups": self._groups}

    def _open(self) -> None:
        import pyarrow.parquet as pq

        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{len(self.files):04d}.parquet"
        self._writer = pq.ParquetWriter(
            path,
            self.schema,
            compression="zstd",
            write_page_index=True,
            dictionary_pagesize_limit=DICTIONARY_BYTES,
            data_page_size=PAGE_BYTES,
            write_batch_size=PAGE_BATCH,
        )
        self._file_bytes = 0
        self.files.append({"filename": path.name, "num_rows": 0})

    def _close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _rows(tables: list[Any]) -> int:
    return sum(t.num_rows for t in tables)


def convert_split(src: Path, dataset: Any, directory: Path, max_bytes: int) -> dict[str, Any]:
    """Stream one split (an IterableDataset) into Parquet files in `directory`."""
    import datasets

    writer = SplitWriter(directory, max_bytes)
    features = dataset.features
    for table in dataset.with_format("arrow").iter(batch_size=BATCH_ROWS):
        if writer.schema is None:
            if table.num_columns > MAX_COLUMNS:
                raise SplitError(f"too many columns ({table.num_columns}; the viewer shows at most {MAX_COLUMNS})")
            features = features or datasets.Features.from_arrow_schema(table.schema)
            writer.schema = features.arrow_schema
        table = _relative_paths(_cast(table, writer.schema), src, features)
        if not writer.add(table):
            break
    if writer.schema is None:
        if features is None:
            raise SplitError("the split has no rows and no declared features")
        writer.schema = features.arrow_schema
    writer.close()
    return {
        "search_index": writer.finish_index(),
        "num_rows": writer.num_rows,
        "num_bytes_memory": writer.num_bytes,
        "partial": writer.partial,
        "files": writer.files,
        "features": features.to_dict(),
    }


def _cast(table: Any, schema: Any) -> Any:
    """Later batches must have the first batch's types (a CSV column typed by its first rows may not)."""
    if table.schema.equals(schema, check_metadata=False):
        return table.replace_schema_metadata(schema.metadata)
    if table.schema.names != schema.names:
        raise SplitError(f"the columns change within the split: {table.schema.names[:10]} vs {schema.names[:10]}")
    try:
        return table.cast(schema)
    except Exception as e:  # pyarrow raises several kinds (ArrowInvalid, ArrowNotImplementedError, ...)
        raise SplitError(f"mixed types in a column: {e}") from None


def _relative_paths(table: Any, src: Path, features: Any) -> Any:
    """Image and audio cells point at local files: embed their bytes (as push_to_hub does) and keep the
    path relative to the repository."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from datasets.table import embed_table_storage

    media = [n for n, f in features.items() if type(f).__name__ in ("Image", "Audio") and n in table.column_names]
    if not media:
        return table
    table = embed_table_storage(table.replace_schema_metadata(features.arrow_schema.metadata))
    prefix = str(src).rstrip("/") + "/"
    for name in media:
        column = table.column(name).combine_chunks()
        if not pa.types.is_struct(column.type) or column.type.get_field_index("path") < 0:
            continue
        paths = pc.replace_substring(column.field("path"), prefix, "")
        fields = [paths if f.name == "path" else column.field(f.name) for f in column.type]
        rebuilt = pa.StructArray.from_arrays(fields, fields=list(column.type), mask=column.is_null())
        table = table.set_column(table.column_names.index(name), table.field(name), rebuilt)
    return table


def convert(src: Path, out: Path, max_bytes: int) -> dict[str, Any]:
    """Every config and split of the dataset in `src`, written to `out/{config}/{split}/NNNN.parquet`."""
    import datasets

    datasets.disable_progress_bars()
    configs: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    try:
        names = datasets.get_dataset_config_names(str(src))
    except Exception as e:
        return {"configs": [], "errors": [{"error": _message(e)}]}
    for config in names:
        if not SAFE_NAME.match(config):
            errors.append({"config": config, "error": "config names must be letters, digits, '.', '_', '-'"})
            continue
        try:
            splits = datasets.load_dataset(str(src), config, streaming=True)
        except Exception as e:
            errors.append({"config": config, "error": _message(e)})
            continue
        done = []
        for split, dataset in splits.items():
            done += _one_split(src, out, config, str(split), dataset, max_bytes, errors)
        if done:
            configs.append({"config": config, "splits": done})
    return {"configs": configs, "errors": errors}


def _one_split(
    src: Path, out: Path, config: str, split: str, dataset: Any, max_bytes: int, errors: list[dict[str, str]]
) -> list[dict[str, Any]]:
    if not SAFE_NAME.match(split) or split.startswith("partial-"):
        errors.append({"config": config, "split": split, "error": "unsupported split name"})
        return []
    tmp = out / config / f".tmp-{split}"
    try:
        result = convert_split(src, dataset, tmp, max_bytes)
    except Exception as e:
        shutil.rmtree(tmp, ignore_errors=True)
        errors.append({"config": config, "split": split, "error": _message(e)})
        return []
    directory = f"partial-{split}" if result["partial"] else split
    tmp.rename(out / config / directory)
    try:
        result["statistics"] = split_statistics(out / config / directory, result)
    except Exception as e:  # statistics are a bonus: the split stays viewable without them
        result["statistics_error"] = _message(e)
    result.update(split=split, directory=f"{config}/{directory}")
    return [result]


def split_statistics(directory: Path, result: dict[str, Any]) -> list[dict[str, Any]]:
    """Statistics over the split's Parquet files, in DuckDB (within this process's memory limit)."""
    import duckdb

    from haven.viewer.statistics import compute

    paths = [str(directory / f["filename"]) for f in result["files"]]
    with duckdb.connect(
        ":memory:", config={"threads": 1, "memory_limit": "256MB", "preserve_insertion_order": False}
    ) as con:
        listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        con.execute(f"CREATE VIEW data AS SELECT * FROM read_parquet([{listed}])")
        return compute(con, result["features"])


def _message(e: BaseException) -> str:
    """The root cause, briefly: datasets wraps reader errors in DatasetGenerationError."""
    while e.__cause__ is not None:
        e = e.__cause__
    text = f"{type(e).__name__}: {e}".replace(os.environ.get("HAVEN_VIEWER_SRC", "\0"), "")
    return text[:MAX_ERROR]


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[1]).read_text())
    src, out = Path(request["src"]), Path(request["out"])
    try:
        manifest = convert(src, out, int(request["max_bytes"]))
    except Exception:  # a bug here must still leave a manifest the server can report
        manifest = {"configs": [], "errors": [{"error": traceback.format_exc()[-MAX_ERROR:]}]}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
