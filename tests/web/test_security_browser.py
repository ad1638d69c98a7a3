"""A crafted malicious pickle, pushed with the real client, is shown as such in a real browser: a warning
on the repository page, a badge beside the file in the tree and on the file's own page."""

from __future__ import annotations

from typing import Any

from huggingface_hub import CommitOperationAdd

from tests.conftest import Hub
from tests.trust.conftest import scanned
from tests.trust.payloads import malicious_pickle, torch_style_zip


def test_a_flagged_pickle_is_shown_in_the_browser(sqlite_hub: Hub, repo_name: str, new_page: Any) -> None:
    repo_id = f"alice/{repo_name}"
    api = sqlite_hub.api("alice")
    api.create_repo(repo_id)
    ops = [
        CommitOperationAdd(path_in_repo="pytorch_model.bin", path_or_fileobj=torch_style_zip(malicious_pickle())),
        CommitOperationAdd(path_in_repo="README.md", path_or_fileobj=b"# A model\n"),
    ]
    api.create_commit(repo_id, ops, commit_message="weights")
    scanned(sqlite_hub, repo_id)
    page = new_page()
    page.goto(f"{sqlite_hub.url}/{repo_id}")
    banner = page.get_by_role("alert")
    assert banner.is_visible()
    assert "pytorch_model.bin" in banner.inner_text() and "posix.system" in banner.inner_text()
    page.get_by_role("link", name="Files").click()
    badge = page.locator("table.tree tr", has_text="pytorch_model.bin").locator("[data-security]")
    assert badge.is_visible() and badge.inner_text() == "⚠ unsafe"
    assert "posix.system" in (badge.get_attribute("title") or "")
    readme = page.locator("table.tree tr", has_text="README.md").locator("[data-security]")
    assert readme.count() == 0
    page.get_by_role("link", name="pytorch_model.bin").click()
    assert page.locator("main [data-security='unsafe']").first.is_visible()
