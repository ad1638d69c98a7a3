"""The SQL console (POST /datasets-server/sql): one read-only SELECT over the dataset's splits, paged, time- and
memory-limited, that can reach the dataset's own Parquet files and nothing else. Each attack is refused twice:
by the statement check, and, with the check bypassed, by DuckDB's locked configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from haven.errors import BadRequest
from haven.viewer import query, sql
from tests.conftest import Hub
from tests.viewer.conftest import converted, push_dataset

TRAIN = b"n,word\n" + b"".join(f"{i},{['ant', 'bee', 'cat'][i % 3]}\n".encode() for i in range(50))
TEST = b"n,word\n100,dog\n101,eel\n"


@pytest.fixture(scope="module")
def animals(sqlite_hub: Hub) -> str:
    repo_id = push_dataset(sqlite_hub, {"train.csv": TRAIN, "test.csv": TEST}, private=True)
    converted(sqlite_hub, repo_id)
    return repo_id


def _sql(hub: Hub, body: dict[str, Any], user: str | None = "alice") -> httpx.Response:
    headers = {"Authorization": f"Bearer {hub.tokens[user]}"} if user else {}
    return httpx.post(f"{hub.url}/datasets-server/sql", json=body, headers=headers, timeout=60)


def test_select_over_the_splits_by_name(sqlite_hub: Hub, animals: str) -> None:
    r = _sql(sqlite_hub, {"dataset": animals, "sql": "SELECT word, count(*) AS k FROM train GROUP BY word ORDER BY 1;"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == [{"name": "word", "type": "string"}, {"name": "k", "type": "int64"}]
    assert body["rows"] == [["ant", 17], ["bee", 17], ["cat", 16]]
    assert body["has_more"] is False and body["partial"] is False
    assert set(body["tables"]) == {"default/train", "default/test", "train", "test"}
    both = 'SELECT max(t.n) FROM "default/train" t UNION ALL SELECT max(n) FROM test'
    assert _sql(sqlite_hub, {"dataset": animals, "sql": both}).json()["rows"] == [[49], [101]]


def test_results_are_paged(sqlite_hub: Hub, animals: str) -> None:
    q = {"dataset": animals, "sql": "WITH x AS (SELECT n FROM train) SELECT n FROM x ORDER BY n DESC"}
    page = _sql(sqlite_hub, {**q, "offset": 10, "length": 5}).json()
    assert page["rows"] == [[39], [38], [37], [36], [35]] and page["has_more"] is True
    last = _sql(sqlite_hub, {**q, "offset": 45, "length": 10}).json()
    assert last["rows"] == [[4], [3], [2], [1], [0]] and last["has_more"] is False
    assert _sql(sqlite_hub, {**q, "length": 1000}).json()["length"] == sql.MAX_LENGTH


def test_private_datasets_are_not_found_for_others(sqlite_hub: Hub, animals: str) -> None:
    assert _sql(sqlite_hub, {"dataset": animals, "sql": "SELECT 1"}, user="bob").status_code == 404
    assert _sql(sqlite_hub, {"dataset": animals, "sql": "SELECT 1"}, user=None).status_code in (401, 404)


@pytest.mark.parametrize(
    "bad",
    [{}, {"dataset": "x"}, {"sql": "SELECT 1"}, {"dataset": 5, "sql": "SELECT 1"}, [], "text"],
)
def test_malformed_bodies_are_400(sqlite_hub: Hub, bad: Any) -> None:
    assert _sql(sqlite_hub, bad).status_code == 400


ATTACKS = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM read_parquet('{other}')",
    "SELECT * FROM train, read_parquet('{other}')",
    "SELECT * FROM query('SELECT 1')",
    "SELECT current_setting('allowed_paths')",
    "SELECT * FROM duckdb_views()",
    "SELECT * FROM duckdb_views",
    "SELECT * FROM system.main.duckdb_settings",
    "ATTACH '/tmp/evil.db' AS evil",
    "COPY (SELECT 1) TO '/tmp/evil.csv'",
    "EXPORT DATABASE '/tmp/evil'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET memory_limit = '100GB'",
    "PRAGMA memory_limit = '100GB'",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "CREATE OR REPLACE VIEW train AS SELECT 'poisoned' AS word",
    "SELECT 1; SELECT 2",
    "SELECT 1) UNION SELECT * FROM read_csv('/etc/passwd') --",
    "SELECT * FROM 'https://example.com/x.parquet'",
    "",
    "SELECT 'x' FROM nowhere",
    "SELECT 1 /* unterminated",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_statements_that_reach_beyond_the_dataset_are_refused(sqlite_hub: Hub, animals: str, attack: str) -> None:
    other = push_dataset(sqlite_hub, {"data.csv": b"secret\nhidden\n"}) if "{other}" in attack else None
    if other:
        converted(sqlite_hub, other)
        url = httpx.get(f"{sqlite_hub.url}/datasets-server/parquet", params={"dataset": other},
                        headers={"Authorization": f"Bearer {sqlite_hub.tokens['alice']}"}).json()["parquet_files"][0]["url"]  # fmt: skip
        attack = attack.format(other=url)
    r = _sql(sqlite_hub, {"dataset": animals, "sql": attack})
    assert r.status_code == 400, r.text
    assert r.json()["error"]
    still = _sql(sqlite_hub, {"dataset": animals, "sql": "SELECT count(*) FROM train WHERE word = 'ant'"})
    assert still.json()["rows"] == [[17]]  # and the views are untouched


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[query.SplitFiles, Path]:
    mine, other = tmp_path / "mine.parquet", tmp_path / "other.parquet"
    pq.write_table(pa.table({"n": list(range(10))}), mine)
    pq.write_table(pa.table({"secret": ["hidden"]}), other)
    return query.SplitFiles((mine,), (10,)), other


DUCKDB_REFUSES = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_parquet('{other}')",
    "SELECT * FROM glob('/*')",
    "ATTACH '{dir}/evil.db' AS evil",
    "COPY (SELECT 1) TO '{dir}/evil.csv'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET memory_limit = '100GB'",
    "PRAGMA threads = 8",
    "SET enable_external_access = true",
    "SET allowed_paths = ['/']",
    "RESET lock_configuration",
]


@pytest.mark.parametrize("attack", DUCKDB_REFUSES)
def test_duckdb_itself_refuses_with_the_check_bypassed(two_files: tuple[query.SplitFiles, Path], attack: str) -> None:
    files, other = two_files
    with query.sandbox_views((("t", files),), 64) as con:
        with pytest.raises(duckdb.Error):
            con.execute(attack.format(other=other, dir=other.parent)).fetchall()
        assert con.execute("SELECT sum(n) FROM t").fetchall() == [(45,)]
    assert not (other.parent / "evil.csv").exists() and not (other.parent / "evil.db").exists()


def test_queries_are_stopped_at_the_time_and_memory_limits(two_files: tuple[query.SplitFiles, Path]) -> None:
    files, _ = two_files
    forever = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"
    with pytest.raises(query.QueryTimeout):
        sql.run({"t": files}, forever, 0, 10, (0.5, 64))
    with pytest.raises(BadRequest, match="memory"):
        sql.run({"t": files}, "SELECT list(i) FROM range(200000000) r(i)", 0, 10, (30, 64))
