"""The listing page's facets come from the listing's tag counts, kept FACET_TTL seconds: once expired they are
answered at once while a thread counts again, as the API's tag counts are, so that no page waits for a count
(seconds at a million repositories)."""

from __future__ import annotations

import re
import time

from haven.repos.listing import FACET_TTL
from tests.conftest import Hub
from tests.web.conftest import WebClient, unique


def authors_facet(client: WebClient, word: str, author: str) -> int:
    page = client.get(f"/models?search={word}").text
    found = re.search(rf'>{author} <span class="muted">(\d+)</span>', page)
    assert found, page
    return int(found.group(1))


def test_an_expired_facet_count_is_answered_while_a_thread_counts_again(sqlite_hub: Hub, anon: WebClient) -> None:
    word, api = unique("facet"), sqlite_hub.api("alice")
    api.create_repo(f"alice/{word}-1")
    assert authors_facet(anon, word, "alice") == 1
    counted = time.monotonic()
    api.create_repo(f"alice/{word}-2")
    time.sleep(max(0.0, counted + FACET_TTL + 1 - time.monotonic()))  # the server keeps counts FACET_TTL seconds
    assert authors_facet(anon, word, "alice") == 1  # expired: answered at once, counted again aside
    deadline = time.monotonic() + 30
    while authors_facet(anon, word, "alice") != 2:
        assert time.monotonic() < deadline, "the expired count was never counted again"
        time.sleep(0.2)
