"""The dataset page's Viewer tab, in a real browser: splits, column types, paging, search, filter, statistics,
images; and the same access rules as the files."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
from huggingface_hub import CommitOperationAdd, HfApi
from PIL import Image

from tests.conftest import Hub
from tests.support import wait_for
from tests.viewer.conftest import converted, push_dataset
from tests.web.conftest import WebClient, anon, browser, new_page, web  # noqa: F401  (fixtures)

CSV = b"id,city,temp\n" + b"".join(f"{i},{['Oslo', 'Lima', 'Pune'][i % 3]},{i % 40}\n".encode() for i in range(120))


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 200, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_viewer_tab_pages_searches_and_filters(sqlite_hub: Hub, new_page: Any) -> None:  # noqa: F811
    repo_id = push_dataset(sqlite_hub, {"train.csv": CSV, "test.csv": b"id,city,temp\n999,Rome,20\n"})
    converted(sqlite_hub, repo_id)
    page = new_page()
    page.goto(f"{sqlite_hub.url}/datasets/{repo_id}")
    page.get_by_role("link", name="Viewer").click()
    table = page.locator("[data-viewer-table]")
    assert table.locator("thead th").all_inner_texts()[1].split()[:2] == ["id", "int64"]
    assert "string" in table.locator("thead th").nth(2).inner_text()
    assert table.locator("tbody tr").count() == 50
    assert page.locator("[data-viewer-total]").inner_text().startswith("120 rows")
    assert table.locator(".spark").count() == 3  # a small chart per column

    page.get_by_role("link", name="Next →").click()
    assert table.locator("tbody tr").first.locator("td").first.inner_text() == "50"

    page.locator("[data-viewer-search]").fill("lima")
    page.get_by_role("button", name="Apply").click()
    assert page.locator("[data-viewer-total]").inner_text().startswith("40 rows match")
    assert set(table.locator("tbody tr td:nth-child(3)").all_inner_texts()) == {"Lima"}

    page.locator("[data-viewer-search]").fill("")
    page.locator("[data-viewer-where]").fill("temp >= 38 AND city = 'Oslo'")
    page.get_by_role("button", name="Apply").click()
    assert table.locator("tbody tr td:first-child").all_inner_texts() == ["39", "78"]

    page.locator("[data-viewer-where]").fill("temp > 1) UNION SELECT 1 --")
    page.get_by_role("button", name="Apply").click()
    assert "invalid" in page.locator("[data-viewer-error]").inner_text()

    page.get_by_role("link", name="test").first.click()
    assert table.locator("tbody tr").count() == 1
    assert "Rome" in table.inner_text()


def test_image_cells_and_private_viewer(sqlite_hub: Hub, web: WebClient, anon: WebClient) -> None:  # noqa: F811
    owner = web.sign_up()
    api = HfApi(endpoint=sqlite_hub.url, token=web.token())
    repo_id = api.create_repo(f"{owner}/imgs", repo_type="dataset", private=True).repo_id
    ops = [CommitOperationAdd(path, _png()) for path in ("train/a/x.png", "train/b/y.png")]
    api.create_commit(repo_id, ops, commit_message="two images", repo_type="dataset")
    url = f"/datasets/{repo_id}/viewer"

    def ready() -> bool:
        return "data-viewer-table" in web.get(url).text

    wait_for(ready, 120, "the conversion")
    assert anon.get(url).status_code == 404  # as if it did not exist
    page = web.get(url).text
    assert page.count('class="cell-img"') == 2 and "ClassLabel" in page
    src = re.search(r'<img src="([^"]+)"', page).group(1).replace("&amp;", "&")
    image = web.http.get(src)
    assert image.headers["content-type"] == "image/png" and image.headers["content-security-policy"] == "sandbox"
    assert Image.open(io.BytesIO(image.content)).size == (4, 4)
    assert anon.http.get(src).status_code == 404


def test_viewer_says_when_conversion_failed(sqlite_hub: Hub) -> None:
    repo_id = push_dataset(sqlite_hub, {"notes.md": b"no data here"})
    converted(sqlite_hub, repo_id)
    page = httpx.get(f"{sqlite_hub.url}/datasets/{repo_id}/viewer", headers={"accept": "text/html"})
    assert page.status_code == 200 and "could not be converted" in page.text


def test_sql_console_runs_a_select_and_pages_its_results(sqlite_hub: Hub, new_page: Any) -> None:  # noqa: F811
    repo_id = push_dataset(sqlite_hub, {"train.csv": CSV, "test.csv": b"id,city,temp\n999,Rome,20\n"})
    converted(sqlite_hub, repo_id)
    page = new_page()
    page.goto(f"{sqlite_hub.url}/datasets/{repo_id}/viewer")
    page.get_by_role("link", name="SQL console").click()
    assert '"default/train"' in page.inner_text("[data-sql]")

    page.locator("[data-sql-input]").fill("SELECT id, city FROM train WHERE temp < 20 ORDER BY id")
    page.get_by_role("button", name="Run").click()
    table = page.locator("[data-sql-table]")
    assert table.locator("thead th").all_inner_texts()[0].split()[:2] == ["id", "int64"]
    expected = [i for i in range(120) if i % 40 < 20]
    assert table.locator("tbody tr td:first-child").all_inner_texts() == [str(i) for i in expected[:50]]
    page.get_by_role("link", name="Next →").click()
    assert table.locator("tbody tr td:first-child").all_inner_texts() == [str(i) for i in expected[50:]]
    assert page.locator("[data-sql-input]").input_value().startswith("SELECT id, city")
    assert page.get_by_role("link", name="Next →").count() == 0

    page.locator("[data-sql-input]").fill("SELECT * FROM read_csv('/etc/passwd')")
    page.get_by_role("button", name="Run").click()
    assert "not allowed" in page.locator("[data-sql-error]").inner_text()
    assert page.locator("[data-sql-table]").count() == 0
