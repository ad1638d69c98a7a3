"""/search, /filter and /statistics over converted splits, and the guards around user-supplied SQL: a filter
is a condition on the split's columns and nothing else; it cannot read files, other tables or settings."""

from __future__ import annotations

import pytest

from tests.conftest import Hub
from tests.viewer.conftest import converted, push_dataset, viewer

ROWS = [(i, f"{['apple', 'Banana', 'cherry pie'][i % 3]} {i}", i % 2 == 0, i * 0.5) for i in range(300)]
CSV = b"n,fruit,even,half\n" + "".join(f"{n},{f},{e},{h}\n" for n, f, e, h in ROWS).encode()


@pytest.fixture(scope="module")
def fruit(sqlite_hub: Hub) -> str:
    repo_id = push_dataset(sqlite_hub, {"train.csv": CSV})
    converted(sqlite_hub, repo_id)
    return repo_id


def _q(hub: Hub, endpoint: str, repo_id: str, **params: object):  # type: ignore[no-untyped-def]
    return viewer(hub, endpoint, dataset=repo_id, config="default", split="train", **params)


def test_search_is_case_insensitive_over_string_columns_with_original_row_indexes(sqlite_hub: Hub, fruit: str) -> None:
    body = _q(sqlite_hub, "search", fruit, query="BANANA", length=5).json()
    assert body["num_rows_total"] == 100
    assert [r["row_idx"] for r in body["rows"]] == [1, 4, 7, 10, 13]
    assert body["rows"][0]["row"] == {"n": 1, "fruit": "Banana 1", "even": False, "half": 0.5}
    page2 = _q(sqlite_hub, "search", fruit, query="banana", offset=95, length=10).json()
    assert [r["row_idx"] for r in page2["rows"]] == [286, 289, 292, 295, 298]
    assert _q(sqlite_hub, "search", fruit, query="pie 29").json()["num_rows_total"] == 5  # 29, 290, 293, 296, 299
    assert _q(sqlite_hub, "search", fruit, query="durian").json() == {
        "features": body["features"], "rows": [], "num_rows_total": 0, "num_rows_per_page": 100, "partial": False,
    }  # fmt: skip
    assert _q(sqlite_hub, "search", fruit, query="  ").status_code == 400


def test_filter_with_where_and_orderby(sqlite_hub: Hub, fruit: str) -> None:
    body = _q(sqlite_hub, "filter", fruit, where="n >= 10 AND even AND fruit ILIKE 'apple%'", orderby="n DESC").json()
    expected = [n for n, f, e, _ in ROWS if n >= 10 and e and f.startswith("apple")]
    assert [r["row"]["n"] for r in body["rows"]] == sorted(expected, reverse=True)
    assert body["num_rows_total"] == len(expected)
    assert [r["row_idx"] for r in body["rows"]] == [r["row"]["n"] for r in body["rows"]]
    between = _q(sqlite_hub, "filter", fruit, where='"half" BETWEEN 1 AND 2 OR n IN (299, 298)').json()
    assert [r["row_idx"] for r in between["rows"]] == [2, 3, 4, 298, 299]
    assert _q(sqlite_hub, "filter", fruit, where="lower(fruit) = 'banana 4'").json()["num_rows_total"] == 1


HOSTILE = [
    "n > 1) UNION SELECT * FROM read_csv('/etc/passwd') --",
    "n > 1; SELECT 1",
    "n IN (SELECT n FROM data)",
    "EXISTS (SELECT 1)",
    "read_text('/etc/passwd') IS NOT NULL",
    "length(getenv('HOME')) > 0",
    "n > 1 LIMIT 1",
    "n > 1 ORDER BY n",
    "n > 1 GROUP BY n",
    "nope = 1",
    "main.data.n = 1",
    "current_setting('enable_external_access') = 'true'",
    "(SELECT count(*) FROM duckdb_settings()) > 0",
    "n = 1 /* unterminated",
    "x" * 3000,
    "",
]


@pytest.mark.parametrize("where", HOSTILE)
def test_filter_refuses_anything_but_a_condition_on_columns(sqlite_hub: Hub, fruit: str, where: str) -> None:
    r = _q(sqlite_hub, "filter", fruit, where=where)
    assert r.status_code == 400, r.text
    assert r.json()["error"].startswith(("Parameter 'where'", "Function", "Unknown column", "subquery", "star"))


def test_line_comment_cannot_swallow_the_rest_of_the_query(sqlite_hub: Hub, fruit: str) -> None:
    r = _q(sqlite_hub, "filter", fruit, where="n = 3 --", length=1)
    assert r.status_code == 200 and [row["row_idx"] for row in r.json()["rows"]] == [3]


@pytest.mark.parametrize("orderby", ["n; DROP TABLE data", "n, fruit", "random()", "zzz", "n DESCENDING"])
def test_orderby_is_one_known_column(sqlite_hub: Hub, fruit: str, orderby: str) -> None:
    assert _q(sqlite_hub, "filter", fruit, where="true", orderby=orderby).status_code == 400


def test_statistics_per_column(sqlite_hub: Hub, fruit: str) -> None:
    body = _q(sqlite_hub, "statistics", fruit).json()
    assert body["num_examples"] == 300 and body["partial"] is False
    stats = {s["column_name"]: s for s in body["statistics"]}
    n = stats["n"]
    assert n["column_type"] == "int"
    assert {k: n["column_statistics"][k] for k in ("nan_count", "min", "max", "mean")} == {
        "nan_count": 0, "min": 0, "max": 299, "mean": 149.5,
    }  # fmt: skip
    assert sum(n["column_statistics"]["histogram"]["hist"]) == 300
    assert stats["even"]["column_statistics"]["frequencies"] == {"true": 150, "false": 150}
    assert stats["fruit"]["column_type"] == "string_text"  # 300 distinct values
    assert stats["fruit"]["column_statistics"]["min"] == len("apple 0")
    assert stats["half"]["column_type"] == "float"
