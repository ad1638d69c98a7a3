"""The model page's widget: text from the page through the same workers, access rules and answer shapes as the
Inference API; the card's first `widget` example fills the box."""

from __future__ import annotations

import re
import uuid

from tests.conftest import Hub
from tests.inference.conftest import post
from tests.web.conftest import WebClient, csrf_of

SCRIPTED = {"X-Requested-With": "haven"}


def test_the_widget_answers_like_the_api(ihub: Hub, models: dict[str, str]) -> None:
    browser = WebClient(ihub)
    repo = models["sentiment"]
    page = browser.get(f"/{repo}")
    assert page.status_code == 200 and "data-widget" in page.text
    token = csrf_of(page.text)
    r = browser.http.post(f"/{repo}/widget", data={"csrf_token": token, "inputs": "i love it"}, headers=SCRIPTED)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["task"] == "text-classification"
    api = post(ihub, f"/models/{repo}", user=None, json={"inputs": "i love it"}).json()
    assert answer["output"] == api

    # Without scripts the form posts and a page shows the answer.
    r = browser.http.post(f"/{repo}/widget", data={"csrf_token": token, "inputs": "i love it"})
    assert r.status_code == 200 and "Result (text-classification)" in r.text
    assert all(x["label"] in r.text for x in api[0])


def test_the_widget_keeps_the_rules(ihub: Hub, models: dict[str, str]) -> None:
    browser = WebClient(ihub)
    token = csrf_of(browser.get(f"/{models['sentiment']}").text)
    # No CSRF token: refused before anything runs.
    r = browser.http.post(f"/{models['sentiment']}/widget", data={"inputs": "x"}, headers=SCRIPTED)
    assert r.status_code == 403
    # A private model is as absent for a visitor without access as for the page itself.
    r = browser.http.post(
        f"/{models['private-sentiment']}/widget", data={"csrf_token": token, "inputs": "x"}, headers=SCRIPTED
    )
    assert r.status_code == 404
    # Refusals come back as a message for the widget to show.
    r = browser.http.post(
        f"/{models['remote-code']}/widget", data={"csrf_token": token, "inputs": "x"}, headers=SCRIPTED
    )
    assert r.status_code == 422 and "error" in r.json()


def test_the_cards_widget_example_fills_the_box(ihub: Hub) -> None:
    api = ihub.api("alice")
    repo = api.create_repo(f"alice/widget-{uuid.uuid4().hex[:8]}").repo_id
    card = "---\npipeline_tag: text-classification\nwidget:\n- text: what a wonderful day\n---\n# a card\n"
    api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=repo)
    page = WebClient(ihub).get(f"/{repo}").text
    assert re.search(r"<textarea[^>]*>what a wonderful day</textarea>", page)
