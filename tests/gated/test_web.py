"""The gated flow in the browser-less web client: the banner's form (CSRF, the card's questions), the
requester's status, and the owner's settings section where requests are accepted and rejected."""

from __future__ import annotations

import html
from collections.abc import Iterator

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from tests.conftest import Hub
from tests.gated.conftest import CARD_WITH_FORM
from tests.web.conftest import WebClient, unique


@pytest.fixture
def clients(sqlite_hub: Hub) -> Iterator[tuple[WebClient, WebClient]]:
    owner, visitor = WebClient(sqlite_hub), WebClient(sqlite_hub)
    owner.sign_up()
    visitor.sign_up()
    yield owner, visitor
    owner.http.close()
    visitor.http.close()


def test_asking_through_the_banner_and_deciding_in_settings(
    sqlite_hub: Hub, clients: tuple[WebClient, WebClient]
) -> None:
    owner, visitor = clients
    api = HfApi(endpoint=sqlite_hub.url, token=owner.token())
    repo_id = api.create_repo(unique("gated")).repo_id
    ops = [CommitOperationAdd("README.md", CARD_WITH_FORM.encode()), CommitOperationAdd("w.bin", b"weights")]
    api.create_commit(repo_id, ops, commit_message="card")
    api.update_repo_settings(repo_id, gated="manual")
    page = f"/{repo_id}"

    banner = visitor.get(page).text
    assert "data-gated-banner" in banner and "Tell us who you are" in banner
    assert "Company" in banner and "I agree to the licence" in banner
    forged = visitor.http.post(f"{page}/ask-access", data={"csrf_token": "forged", "field-0": "x"})
    assert forged.status_code == 403
    answers = {"field-0": "Initech", "field-1": "research", "field-2": "on"}
    r = visitor.post_form(page, f"{page}/ask-access", answers)
    assert r.status_code == 200 and 'data-gate-status="pending"' in r.text

    settings = owner.get(f"{page}/settings").text
    assert f'data-request-user="{visitor.user}"' in settings
    assert "Initech" in settings and "research" in settings  # the answers, shown to the admin
    [pending] = api.list_pending_access_requests(repo_id)
    r = owner.post_form(
        f"{page}/settings",
        f"{page}/settings/access-requests",
        {"action": "reject", "request_id": pending.request_id, "reason": "Research labs only"},
    )
    assert r.status_code == 200 and 'data-requests="rejected"' in r.text
    shown = visitor.get(page).text
    assert 'data-gate-status="rejected"' in shown and "Research labs only" in html.unescape(shown)

    owner.post_form(
        f"{page}/settings", f"{page}/settings/access-requests", {"action": "accept", "request_id": pending.request_id}
    )
    assert 'data-gate-status="granted"' in visitor.get(page).text
    token = visitor.token("read")
    r = httpx.get(
        f"{sqlite_hub.url}/{repo_id}/resolve/main/w.bin",
        headers={"authorization": f"Bearer {token}"},
        follow_redirects=True,
    )
    assert r.status_code == 200 and r.content == b"weights"


def test_visitors_who_are_not_admins_cannot_decide(sqlite_hub: Hub, clients: tuple[WebClient, WebClient]) -> None:
    owner, visitor = clients
    api = HfApi(endpoint=sqlite_hub.url, token=owner.token())
    repo_id = api.create_repo(unique("gated")).repo_id
    api.update_repo_settings(repo_id, gated="auto")
    r = visitor.post_form(f"/{repo_id}", f"/{repo_id}/settings/access-requests", {"action": "mode", "mode": "off"})
    assert r.status_code == 403
    assert api.model_info(repo_id).gated == "auto"
