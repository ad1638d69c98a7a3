"""The web hub in a real browser (headless Chromium via Playwright) against a real server."""

from __future__ import annotations

import re
from typing import Any

from huggingface_hub import CommitOperationAdd, HfApi

from tests.conftest import Hub
from tests.web.conftest import PASSWORD, unique
from tests.web.test_pages import safetensors_bytes

STORY_CARD = """---
license: mit
pipeline_tag: text-classification
library_name: transformers
language: en
---
# Story model

| split | accuracy |
|---|---|
| test | 0.93 |

```python
from transformers import pipeline
```
"""


def _sign_up(page: Any, base: str) -> str:
    name = unique("u")
    page.goto(f"{base}/signup")
    page.fill("#name", name)
    page.fill("#email", f"{name}@example.org")
    page.fill("#password", PASSWORD)
    page.fill("#password2", PASSWORD)
    page.click("button:has-text('Sign up')")
    page.wait_for_url(f"{base}/")
    assert page.locator(f"nav a[href='/{name}']").is_visible()
    return name


def _no_dialogs(page: Any) -> list[str]:
    fired: list[str] = []

    def on_dialog(dialog: Any) -> None:
        fired.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return fired


def test_story_sign_up_push_find_browse_like_upload_edit_and_hide(sqlite_hub: Hub, new_page: Any) -> None:
    base = sqlite_hub.url
    page = new_page()
    dialogs = _no_dialogs(page)
    user = _sign_up(page, base)

    # A write token, shown once, that the real client then uses.
    page.goto(f"{base}/settings/tokens")
    page.fill("#tname", "laptop")
    page.check("input[name=role][value=write]")
    page.click("button:has-text('Create token')")
    token = page.inner_text("#new-token").strip()
    assert token.startswith("hv_")
    name = unique("story")
    repo_id = f"{user}/{name}"
    api = HfApi(endpoint=base, token=token)
    api.create_repo(repo_id)
    api.create_commit(
        repo_id,
        [
            CommitOperationAdd("README.md", STORY_CARD.encode()),
            CommitOperationAdd("config.json", b'{"hidden": 4}\n'),
            CommitOperationAdd("model.safetensors", safetensors_bytes({"embed": [10, 4], "head": [4, 2]})),
        ],
        commit_message="First version",
    )
    api.create_commit(repo_id, [CommitOperationAdd("config.json", b'{"hidden": 8}\n')], commit_message="Wider config")

    # Found by search from the home page, then narrowed by a facet.
    page.goto(f"{base}/")
    page.fill("#home-q", name)
    page.press("#home-q", "Enter")
    page.wait_for_url(re.compile(r"/models\?search="))
    assert page.locator(f"a.card-title[href='/{repo_id}']").is_visible()
    page.click("section[aria-labelledby=f-task] a:has-text('text-classification')")
    page.wait_for_url(re.compile(r"task=text-classification"))
    assert page.locator("a.chip.on", has_text="text-classification").is_visible()
    page.click(f"a.card-title[href='/{repo_id}']")

    # The repository page: rendered card, metadata, snippets.
    page.wait_for_url(f"{base}/{repo_id}")
    card = page.locator("article.card-body")
    assert card.locator("h1").inner_text() == "Story model"
    assert card.locator("td", has_text="0.93").is_visible()
    assert card.locator("pre.highlight span.kn").first.inner_text() == "from"
    assert page.locator(".meta a.chip", has_text="mit").first.is_visible()
    assert f'from_pretrained("{repo_id}")' in page.locator("pre.snippet").first.inner_text()
    # 10*4 + 4*2 = 48 parameters, from the safetensors header.
    assert page.get_attribute("[data-parameters]", "title") == "48"

    # Files: the tree, then the safetensors file's tensor list and LFS facts.
    page.click("nav.tabs a:has-text('Files')")
    page.click("table.files a:has-text('model.safetensors')")
    assert page.inner_text("[data-params]") == "48"
    assert re.fullmatch(r"[0-9a-f]{64}", page.inner_text("[data-sha256]"))
    assert page.locator("td code", has_text="embed").is_visible()

    # History, one commit's diff, and a comparison.
    page.click("nav.tabs a:has-text('History')")
    assert page.locator("ol.commits li").count() == 3
    page.click("a.commit-title:has-text('Wider config')")
    assert page.locator(".dadd", has_text='+{"hidden": 8}').is_visible()
    assert page.locator(".ddel", has_text='-{"hidden": 4}').is_visible()
    first = api.list_repo_commits(repo_id)[-2].commit_id
    page.goto(f"{base}/{repo_id}/commits/main")
    page.fill("#cbase", first)
    page.click(".compare-form button")
    page.wait_for_url(re.compile(r"/compare/"))
    assert page.locator(".dadd", has_text='+{"hidden": 8}').is_visible()

    # Like, and it sticks.
    page.goto(f"{base}/{repo_id}")
    page.click("form[data-like] button")
    page.wait_for_selector("form[data-like] button[aria-pressed=true]")
    assert page.inner_text("[data-like-count]") == "1"
    page.reload()
    assert page.get_attribute("form[data-like] button", "aria-pressed") == "true"
    assert api.model_info(repo_id).likes == 1

    # A POST without the CSRF token, even from the logged-in page itself, is refused.
    status = page.evaluate(f"fetch('/{repo_id}/like', {{method: 'POST', body: new FormData()}}).then(r => r.status)")
    assert status == 403

    # Upload a file from the browser.
    page.click("nav.tabs a:has-text('Files')")
    page.click("a:has-text('Upload files')")
    page.set_input_files("#files", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"some notes\n"}])
    page.fill("#summary", "Add notes")
    page.click("button:has-text('Commit changes')")
    page.wait_for_url(f"{base}/{repo_id}/tree/main")
    assert page.locator("table.files a", has_text="notes.txt").is_visible()
    assert api.list_repo_commits(repo_id)[0].title == "Add notes"

    # Edit the card.
    page.goto(f"{base}/{repo_id}")
    page.click("a:has-text('Edit card')")
    page.fill("#content", "---\nlicense: mit\n---\n# Edited story\n\nNew text.\n")
    page.fill("#summary", "Edit the card")
    page.click("button:has-text('Commit changes')")
    page.wait_for_url(f"{base}/{repo_id}/blob/main/README.md")
    page.goto(f"{base}/{repo_id}")
    assert page.locator("article.card-body h1").inner_text() == "Edited story"

    # Private: another user gets the same 404 page as for a missing repository.
    page.click("nav.tabs a:has-text('Settings')")
    page.check("input[name=visibility][value=private]")
    page.click("button:has-text('Save visibility')")
    assert api.model_info(repo_id).private
    assert page.goto(f"{base}/{repo_id}").status == 200  # still there for its owner
    other = new_page()
    _sign_up(other, base)
    response = other.goto(f"{base}/{repo_id}")
    assert response.status == 404
    assert "does not exist" in other.inner_text("main")
    assert other.goto(f"{base}/{repo_id}/tree/main").status == 404
    assert dialogs == []


XSS_CARD = """# Harmless title

<script>window.__pwned = 1; alert('script')</script>
<img src="x" onerror="window.__pwned = 2; alert('onerror')">
<a id="js" href="javascript:window.__pwned=3;alert('link')">click me</a>
[md link](javascript:alert('md'))
<svg onload="window.__pwned = 4; alert('svg')"><script>alert('svg script')</script></svg>
<svg><animate onbegin="alert('animate')" attributeName="x" dur="1s"/></svg>
<math><mtext><table><mglyph><style><img src=x onerror="alert('mxss')">
<iframe src="javascript:alert('iframe')"></iframe>
<details open ontoggle="alert('toggle')">x</details>
<object data="data:text/html,<script>alert('object')</script>"></object>
<form action="javascript:alert('form')"><button id="fbtn">go</button></form>
"""


def test_hostile_card_renders_inert(sqlite_hub: Hub, new_page: Any) -> None:
    api = sqlite_hub.api("alice")
    repo_id = f"alice/{unique('xss')}"
    api.create_repo(repo_id)
    api.create_commit(
        repo_id,
        [
            CommitOperationAdd("README.md", XSS_CARD.encode()),
            CommitOperationAdd("evil.html", b"<script>alert('resolve')</script>"),
            CommitOperationAdd("evil.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ],
        commit_message="xss",
    )
    page = new_page()
    dialogs = _no_dialogs(page)
    scripts_run: list[str] = []
    page.on("console", lambda m: scripts_run.append(m.text) if "pwned" in m.text else None)
    page.goto(f"{sqlite_hub.url}/{repo_id}")
    page.wait_for_timeout(500)
    card = page.locator("article.card-body")
    assert card.locator("h1").inner_text() == "Harmless title"
    for link in card.locator("a").all():
        link.click()  # links without a safe href go nowhere
    page.goto(f"{sqlite_hub.url}/{repo_id}")
    html = page.inner_html("article.card-body").lower()
    for needle in ("<script", "<svg", "<math", "<iframe", "<object", "<form", "<style"):
        assert needle not in html, needle
    attributes = page.evaluate(
        """[...document.querySelectorAll('article.card-body *')]
           .flatMap(e => [...e.attributes].map(a => [a.name, a.value]))"""
    )
    for name, value in attributes:
        assert not name.startswith("on") and "javascript:" not in value.lower(), (name, value)
    assert page.evaluate("window.__pwned") is None
    # The same files opened raw from /resolve are sandboxed.
    for name in ("evil.html", "evil.svg"):
        page.goto(f"{sqlite_hub.url}/{repo_id}/resolve/main/{name}")
        page.wait_for_timeout(300)
    assert dialogs == [] and scripts_run == []


def test_phone_width_and_keyboard(sqlite_hub: Hub, browser: Any) -> None:
    repo_id = f"alice/{unique('phone')}"
    api = sqlite_hub.api("alice")
    api.create_repo(repo_id)
    api.create_commit(
        repo_id,
        [CommitOperationAdd("README.md", STORY_CARD.encode()), CommitOperationAdd("a/very/deep/file.txt", b"x\n")],
        commit_message="A commit with a rather long title that goes on and on",
    )
    sha = api.list_repo_commits(repo_id)[0].commit_id
    context = browser.new_context(viewport={"width": 375, "height": 740})
    try:
        page = context.new_page()
        for url in ("/", "/models", f"/{repo_id}", f"/{repo_id}/tree/main", f"/{repo_id}/commit/{sha}", "/login"):
            page.goto(f"{sqlite_hub.url}{url}")
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, url
        page.goto(f"{sqlite_hub.url}/models")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        page.keyboard.press("Enter")
        for landmark in ("header", "nav", "main", "footer"):
            assert page.locator(landmark).count() >= 1
        unlabeled = page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
               .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).length"""
        )
        assert unlabeled == 0
    finally:
        context.close()
