"""The listing page's facets come from the listing's tag counts, kept HAVEN_FACET_TTL seconds: once expired they
are answered at once while a thread counts again, as the API's tag counts are, so that no page waits for a count
(seconds at a million repositories)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from tests.conftest import Hub, start_hub
from tests.web.conftest import WebClient, unique

FACET_TTL = 1.0  # seconds (HAVEN_FACET_TTL; 30 by default): the test waits it out


@pytest.fixture(scope="module")
def quick_hub() -> Iterator[Hub]:
    """A hub of its own whose counts expire after FACET_TTL seconds."""
    hub = start_hub("haven-facets-", env={"HAVEN_FACET_TTL": str(FACET_TTL)})
    yield hub
    hub.server.stop()


def authors_facet(client: WebClient, word: str, author: str) -> int:
    page = client.get(f"/models?search={word}").text
    found = re.search(rf'>{author} <span class="muted">(\d+)</span>', page)
    assert found, page
    return int(found.group(1))


def test_an_expired_facet_count_is_answered_while_a_thread_counts_again(quick_hub: Hub) -> None:
    anon = WebClient(quick_hub)
    word, api = unique("facet"), quick_hub.api("alice")
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
    anon.http.close()
