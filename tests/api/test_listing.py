"""list_models / list_datasets: search, author, tag filters, sorting and Link pagination (protocol §5, §1.5)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.utils._pagination import paginate

from tests.api.conftest import unique
from tests.conftest import Hub

N = 5
LIKERS = ["alice", "bob", "carol", "dave", "root"]


@dataclass
class Catalog:
    """N acme models named `{prefix}-{i}`: repo i has i likes and i downloads; even repos carry the tag
    `even-{prefix}`. They were created in order 0..N-1 and last modified in the reverse order."""

    prefix: str
    ids: list[str]

    @property
    def even_tag(self) -> str:
        return f"even-{self.prefix}"


_CATALOGS: dict[str, Catalog] = {}


def _like(hub: Hub, user: str, repo_id: str, repo_type: str = "model") -> None:
    r = httpx.post(
        f"{hub.url}/api/{repo_type}s/{repo_id}/like", headers={"authorization": f"Bearer {hub.tokens[user]}"}
    )
    assert r.status_code == 200, r.text


def _build_catalog(hub: Hub) -> Catalog:
    api = hub.api("alice")
    prefix = unique("cat")
    ids = [api.create_repo(f"acme/{prefix}-{i}").repo_id for i in range(N)]
    for i in reversed(range(N)):
        tags = f"tags:\n- {prefix}-all\n" + (f"- even-{prefix}\n" if i % 2 == 0 else "")
        readme = f"---\nlicense: mit\n{tags}---\n".encode()
        ops = [CommitOperationAdd("README.md", readme), CommitOperationAdd("config.json", b"{}")]
        api.create_commit(ids[i], ops, commit_message="card")
    for i, repo_id in enumerate(ids):
        for user in LIKERS[:i]:
            _like(hub, user, repo_id)
        for _ in range(i):
            assert httpx.get(f"{hub.url}/{repo_id}/resolve/main/config.json").status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        counts = [m.downloads for m in api.list_models(author="acme", search=prefix, sort="downloads")]
        if sorted(counts) == list(range(N)):
            break
        time.sleep(0.1)
    return Catalog(prefix, ids)


@pytest.fixture
def catalog(hub: Hub) -> Catalog:
    if hub.backend not in _CATALOGS:
        _CATALOGS[hub.backend] = _build_catalog(hub)
    return _CATALOGS[hub.backend]


def ids(items) -> list[str]:  # type: ignore[no-untyped-def]
    return [item.id for item in items]


def test_search_matches_substring_of_repo_id_case_insensitively(hub: Hub, catalog: Catalog) -> None:
    api = hub.api(None)
    assert sorted(ids(api.list_models(search=catalog.prefix))) == sorted(catalog.ids)
    assert sorted(ids(api.list_models(search=catalog.prefix.upper()))) == sorted(catalog.ids)
    assert ids(api.list_models(search=f"{catalog.prefix}-3")) == [catalog.ids[3]]
    assert ids(api.list_models(search=f"acme/{catalog.prefix}-2")) == [catalog.ids[2]]
    assert ids(api.list_models(search=unique("nothing"))) == []


def test_search_operators_and_wildcards_are_plain_separators(hub: Hub, catalog: Catalog) -> None:
    """Search matches words by prefix; LIKE wildcards and FTS5 / tsquery syntax are never interpreted."""
    api = hub.api(None)
    assert sorted(ids(api.list_models(search=f"{catalog.prefix}%"))) == sorted(catalog.ids)
    assert ids(api.list_models(search=f"{catalog.prefix}_1")) == [catalog.ids[1]]
    for query in ['"', "*", "NEAR(", f"{catalog.prefix} OR x", "a:*", "!&|", "'", "-", "^", ")"]:
        r = httpx.get(f"{hub.url}/api/models", params={"search": query})
        assert r.status_code == 200, (query, r.text)


def test_author_filter(hub: Hub, catalog: Catalog) -> None:
    api = hub.api(None)
    found = list(api.list_models(author="acme", search=catalog.prefix))
    assert len(found) == N and {m.author for m in found} == {"acme"}
    assert ids(api.list_models(author="bob", search=catalog.prefix)) == []


def test_tag_filter_and_combined_filters(hub: Hub, catalog: Catalog) -> None:
    api = hub.api(None)
    even = sorted(ids(api.list_models(filter=catalog.even_tag)))
    assert even == sorted(catalog.ids[0::2])
    both = sorted(ids(api.list_models(filter=[catalog.even_tag, "license:mit"])))
    assert both == even
    assert ids(api.list_models(filter=[catalog.even_tag, "license:apache-2.0"])) == []
    for model in api.list_models(filter=f"{catalog.prefix}-all"):
        assert catalog.even_tag in model.tags or catalog.ids.index(model.id) % 2 == 1


def test_sort_by_downloads_descending(hub: Hub, catalog: Catalog) -> None:
    models = list(hub.api(None).list_models(search=catalog.prefix, sort="downloads"))
    assert ids(models) == catalog.ids[::-1]
    assert [m.downloads for m in models] == list(range(N))[::-1]


def test_sort_by_likes_descending(hub: Hub, catalog: Catalog) -> None:
    models = list(hub.api(None).list_models(search=catalog.prefix, sort="likes"))
    assert ids(models) == catalog.ids[::-1]
    assert [m.likes for m in models] == list(range(N))[::-1]


def test_sort_by_created_at_and_last_modified(hub: Hub, catalog: Catalog) -> None:
    api = hub.api(None)
    by_created = list(api.list_models(search=catalog.prefix, sort="createdAt"))
    assert ids(by_created) == catalog.ids[::-1]  # newest first
    by_modified = list(api.list_models(search=catalog.prefix, sort="last_modified"))
    assert ids(by_modified) == catalog.ids  # 0 was committed to last
    dates = [m.last_modified for m in by_modified]
    assert dates == sorted(dates, reverse=True)


def test_direction_1_sorts_ascending(hub: Hub, catalog: Catalog) -> None:
    """This client never sends `direction`, but older ones do: 1 ascending, -1 descending."""
    url = f"{hub.url}/api/models"
    up = httpx.get(url, params={"search": catalog.prefix, "sort": "likes", "direction": "1"}).json()
    down = httpx.get(url, params={"search": catalog.prefix, "sort": "likes", "direction": "-1"}).json()
    assert [m["id"] for m in up] == catalog.ids
    assert [m["id"] for m in down] == catalog.ids[::-1]


def test_limit_caps_the_result(hub: Hub, catalog: Catalog) -> None:
    models = list(hub.api(None).list_models(search=catalog.prefix, sort="likes", limit=2))
    assert ids(models) == catalog.ids[::-1][:2]


def test_unknown_sort_is_400(hub: Hub, catalog: Catalog) -> None:
    r = httpx.get(f"{hub.url}/api/models", params={"sort": "nonsense"})
    assert r.status_code == 400


def test_link_header_is_absolute_and_carries_the_query(hub: Hub, catalog: Catalog) -> None:
    r = httpx.get(f"{hub.url}/api/models", params={"search": catalog.prefix, "sort": "likes", "limit": 2})
    assert r.status_code == 200 and len(r.json()) == 2
    nxt = r.links["next"]["url"]
    assert nxt.startswith(f"{hub.url}/api/models?")
    assert f"search={catalog.prefix}" in nxt and "sort=likes" in nxt and "limit=2" in nxt


@pytest.mark.parametrize("sort", [None, "likes", "downloads", "createdAt", "lastModified"])
def test_raw_link_pagination_visits_every_repo_once_in_order(hub: Hub, catalog: Catalog, sort: str | None) -> None:
    params = {"search": catalog.prefix, "limit": 2, **({"sort": sort} if sort else {})}
    unpaged = [m["id"] for m in httpx.get(f"{hub.url}/api/models", params={**params, "limit": 100}).json()]
    seen, pages = [], 0
    r = httpx.get(f"{hub.url}/api/models", params=params)
    while True:
        assert r.status_code == 200
        page = r.json()
        assert len(page) <= 2
        seen += [m["id"] for m in page]
        pages += 1
        if "next" not in r.links:
            break
        r = httpx.get(r.links["next"]["url"])  # no parameters re-sent, as the client does
    assert pages == 3
    assert seen == unpaged
    assert sorted(seen) == sorted(catalog.ids)


def test_client_pagination_follows_link_across_pages(hub: Hub, catalog: Catalog) -> None:
    """huggingface_hub's own paginate() with a page size of 2 collects all N repos."""
    items = list(paginate(f"{hub.url}/api/models", params={"search": catalog.prefix, "limit": 2}, headers={}))
    assert sorted(i["id"] for i in items) == sorted(catalog.ids)


def test_pagination_with_ties_in_sort_key(hub: Hub) -> None:
    """Equal sort values (all zero downloads) must not make the cursor skip or repeat repos."""
    api = hub.api("alice")
    prefix = unique("tie")
    created = {api.create_repo(f"{prefix}-{i}", repo_type="dataset").repo_id for i in range(5)}
    params = {"search": prefix, "sort": "downloads", "limit": 2}
    items = list(paginate(f"{hub.url}/api/datasets", params=params, headers={}))
    assert len(items) == 5
    assert {i["id"] for i in items} == created


def test_private_repos_are_listed_only_for_those_who_may_see_them(hub: Hub) -> None:
    prefix = unique("priv")
    alice = hub.api("alice")
    public = alice.create_repo(f"acme/{prefix}-public").repo_id
    private = alice.create_repo(f"acme/{prefix}-private", private=True).repo_id
    assert ids(hub.api(None).list_models(search=prefix)) == [public]
    assert ids(hub.api("bob").list_models(search=prefix)) == [public]
    assert sorted(ids(hub.api("carol").list_models(search=prefix))) == sorted([public, private])
    assert sorted(ids(hub.api("root").list_models(search=prefix))) == sorted([public, private])


def test_list_models_full_and_card_data(hub: Hub, catalog: Catalog) -> None:
    api = hub.api(None)
    full = list(api.list_models(search=f"{catalog.prefix}-0", full=True))
    assert len(full) == 1
    assert {s.rfilename for s in full[0].siblings} == {".gitattributes", "README.md", "config.json"}
    with_card = next(iter(api.list_models(search=f"{catalog.prefix}-0", cardData=True)))
    assert with_card.card_data.license == "mit"
    plain = next(iter(api.list_models(search=f"{catalog.prefix}-0")))
    assert plain.siblings is None
    assert plain.sha is not None and plain.created_at is not None and plain.last_modified is not None


def test_list_models_expand(hub: Hub, catalog: Catalog) -> None:
    model = next(iter(hub.api(None).list_models(search=f"{catalog.prefix}-4", expand=["likes", "downloads"])))
    assert model.id == catalog.ids[4]
    assert (model.likes, model.downloads) == (4, 4)
    assert model.author is None and model.sha is None


def test_list_datasets_search_author_filter_sort(hub: Hub) -> None:
    api = hub.api("alice")
    prefix = unique("ds")
    first = api.create_repo(f"{prefix}-a", repo_type="dataset").repo_id
    second = api.create_repo(f"acme/{prefix}-b", repo_type="dataset").repo_id
    api.create_commit(
        second,
        [
            CommitOperationAdd(
                "README.md",
                b"---\nlanguage: fr\ntask_categories:\n- automatic-speech-recognition\ntags:\n- speech\n---\n",
            )
        ],
        commit_message="card",
        repo_type="dataset",
    )
    _like(hub, "bob", first, "dataset")
    anon = hub.api(None)
    assert sorted(ids(anon.list_datasets(search=prefix))) == sorted([first, second])
    assert ids(anon.list_datasets(search=prefix, author="acme")) == [second]
    assert ids(anon.list_datasets(search=prefix, filter="speech")) == [second]
    assert ids(anon.list_datasets(search=prefix, language="fr")) == [second]  # sent as filter=language:fr
    assert ids(anon.list_datasets(search=prefix, task_categories="automatic-speech-recognition")) == [second]
    assert ids(anon.list_datasets(search=prefix, sort="likes")) == [first, second]
    assert ids(anon.list_datasets(search=prefix, sort="lastModified")) == [second, first]
    assert ids(anon.list_models(search=prefix)) == []  # models and datasets are listed apart


def test_gated_filter(hub: Hub) -> None:
    api = hub.api("alice")
    prefix = unique("gate")
    open_repo = api.create_repo(f"{prefix}-open").repo_id
    gated_repo = api.create_repo(f"{prefix}-gated").repo_id
    api.update_repo_settings(gated_repo, gated="auto")
    anon = hub.api(None)
    assert ids(anon.list_models(search=prefix, gated=True)) == [gated_repo]
    assert ids(anon.list_models(search=prefix, gated=False)) == [open_repo]
    assert sorted(ids(anon.list_models(search=prefix))) == sorted([open_repo, gated_repo])


def test_pipeline_tag_filter(hub: Hub, catalog: Catalog) -> None:
    api = hub.api("alice")
    prefix = unique("pipe")
    repo_id = api.create_repo(f"{prefix}-clf").repo_id
    api.create_repo(f"{prefix}-other")
    api.create_commit(
        repo_id,
        [CommitOperationAdd("README.md", b"---\npipeline_tag: text-classification\n---\n")],
        commit_message="card",
    )
    assert ids(hub.api(None).list_models(search=prefix, pipeline_tag="text-classification")) == [repo_id]


def test_next_link_keeps_repeated_parameters(hub: Hub, catalog: Catalog) -> None:
    params = [("search", catalog.prefix), ("filter", f"{catalog.prefix}-all"), ("filter", "license:mit")]
    params += [("expand", "likes"), ("expand", "downloads"), ("limit", "2")]
    r = httpx.get(f"{hub.url}/api/models", params=params)
    items = r.json()
    while "next" in r.links:
        r = httpx.get(r.links["next"]["url"])
        page = r.json()
        assert all(set(item) == {"_id", "id", "likes", "downloads"} for item in page)
        items += page
    assert sorted(i["id"] for i in items) == sorted(catalog.ids)


def test_list_spaces(hub: Hub) -> None:
    api = hub.api("alice")
    prefix = unique("sp")
    space = api.create_repo(f"{prefix}-demo", repo_type="space", space_sdk="gradio").repo_id
    found = list(hub.api(None).list_spaces(search=prefix))
    assert [s.id for s in found] == [space]
    assert found[0].sdk == "gradio"
