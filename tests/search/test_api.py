"""Search, filters, ranking and facets through the HTTP API with the real client, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import httpx
import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.utils._pagination import paginate

from haven.repos.listing import FACET_TTL
from tests.conftest import Hub
from tests.search.conftest import unique


def ids(items) -> list[str]:  # type: ignore[no-untyped-def]
    return [item.id for item in items]


def card(api, repo_id: str, text: str, repo_type: str = "model") -> None:  # type: ignore[no-untyped-def]
    api.create_commit(
        repo_id, [CommitOperationAdd("README.md", text.encode())], commit_message="card", repo_type=repo_type
    )


def like(hub: Hub, user: str, repo_id: str) -> None:
    r = httpx.post(f"{hub.url}/api/models/{repo_id}/like", headers={"authorization": f"Bearer {hub.tokens[user]}"})
    assert r.status_code == 200, r.text


def test_search_finds_name_subwords_camel_case_and_card_text(hub: Hub) -> None:
    api = hub.api("alice")
    word = unique("w")
    tiny = api.create_repo(f"tiny-{word}-base").repo_id
    camel = api.create_repo(f"acme/Big{word.capitalize()}Model").repo_id
    other = api.create_repo(unique("plain")).repo_id
    card(api, other, f"---\nlicense: mit\ntags: [speech]\n---\n# Notes\nDistilled from {word} checkpoints.\n")
    anon = hub.api(None)
    assert sorted(ids(anon.list_models(search=word))) == sorted([tiny, camel, other])
    assert ids(anon.list_models(search=f"tiny {word}")) == [tiny]
    assert ids(anon.list_models(search=f"big {word} model")) == [camel]
    assert ids(anon.list_models(search=f"distilled {word}")) == [other]
    assert ids(anon.list_models(search=f"{word} speech")) == [other]  # card tags are indexed too
    assert ids(anon.list_models(search=word[:6], author="acme")) == [camel]  # word prefix


def test_card_changes_rename_and_delete_keep_the_index_in_sync(hub: Hub) -> None:
    api = hub.api("alice")
    first, second, name = unique("first"), unique("second"), unique("n")
    repo_id = api.create_repo(name).repo_id
    card(api, repo_id, f"about {first}")
    anon = hub.api(None)
    assert ids(anon.list_models(search=first)) == [repo_id]
    card(api, repo_id, f"about {second}")
    assert ids(anon.list_models(search=first)) == []
    assert ids(anon.list_models(search=second)) == [repo_id]
    moved = f"acme/{unique('moved')}"
    api.move_repo(repo_id, moved)
    assert ids(anon.list_models(search=name)) == []
    assert ids(anon.list_models(search=moved.split("/")[1])) == [moved]
    assert ids(anon.list_models(search=second)) == [moved]  # the card text moved with it
    api.delete_repo(moved)
    assert ids(anon.list_models(search=second)) == []


def test_private_repos_never_surface_in_search_or_tag_counts(hub: Hub) -> None:
    api = hub.api("alice")
    word = unique("secret")
    private = api.create_repo(f"acme/{unique()}", private=True).repo_id
    card(api, private, f"---\ntags: [tag-{word}]\n---\n{word}")
    assert ids(hub.api(None).list_models(search=word)) == []
    assert ids(hub.api("bob").list_models(search=word)) == []
    assert ids(hub.api("carol").list_models(search=word)) == [private]
    counts = httpx.get(f"{hub.url}/api/haven/models/tag-counts", params={"search": word}).json()
    assert counts["tags"] == {} and counts["repos"] == 0
    mine = httpx.get(
        f"{hub.url}/api/haven/models/tag-counts",
        params={"search": word},
        headers={"authorization": f"Bearer {hub.tokens['carol']}"},
    ).json()
    assert mine["tags"] == {f"tag-{word}": 1} and mine["exact"] is True
    api.update_repo_settings(private, private=False)
    assert ids(hub.api(None).list_models(search=word)) == [private]


def test_sort_by_likes_downloads_and_trending(hub: Hub) -> None:
    api = hub.api("alice")
    word = unique("rank")
    repos = [api.create_repo(f"{word}-{i}").repo_id for i in range(3)]
    for repo_id in repos:
        api.create_commit(repo_id, [CommitOperationAdd("config.json", b"{}")], commit_message="config")
    for user in ("bob", "carol", "dave"):
        like(hub, user, repos[0])
    for _ in range(4):
        assert httpx.get(f"{hub.url}/{repos[1]}/resolve/main/config.json").status_code == 200
    anon = hub.api(None)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # downloads are flushed in batches, about once a second
        if next(m.downloads for m in anon.list_models(search=word, sort="downloads")) == 4:
            break
        time.sleep(0.2)
    by_downloads = list(anon.list_models(search=word, sort="downloads", expand=["downloads", "downloadsAllTime"]))
    assert ids(by_downloads)[0] == repos[1]
    assert (by_downloads[0].downloads, by_downloads[0].downloads_all_time) == (4, 4)
    assert ids(anon.list_models(search=word, sort="likes"))[0] == repos[0]
    trending = list(anon.list_models(search=word, sort="trendingScore", expand=["trendingScore", "likes"]))
    assert ids(trending)[:2] == [repos[0], repos[1]]  # 3 likes (30 points) before 4 downloads
    assert trending[0].trending_score == 30 and trending[1].trending_score == 4 and trending[2].trending_score == 0
    assert hub.api(None).model_info(repos[0]).trending_score == 30


def test_filters_and_shorthands_and_together(hub: Hub) -> None:
    api = hub.api("alice")
    word = unique("flt")
    both = api.create_repo(f"{word}-both").repo_id
    one = api.create_repo(f"{word}-one").repo_id
    card(api, both, "---\nlibrary_name: transformers\npipeline_tag: fill-mask\nlanguage: [fr]\nlicense: mit\n---\n")
    card(api, one, "---\nlibrary_name: transformers\npipeline_tag: fill-mask\nlanguage: [de]\n---\n")
    anon = hub.api(None)
    assert sorted(ids(anon.list_models(search=word, pipeline_tag="fill-mask"))) == sorted([both, one])
    assert ids(anon.list_models(search=word, filter=["transformers", "fr"])) == [both]
    assert ids(anon.list_models(search=word, filter="license:mit", pipeline_tag="fill-mask")) == [both]
    r = httpx.get(f"{hub.url}/api/models", params={"search": word, "library": "transformers", "language": "de"})
    assert [m["id"] for m in r.json()] == [one]


def test_pagination_of_a_search_gives_each_repo_once(hub: Hub) -> None:
    api = hub.api("alice")
    word = unique("pg")
    created = {api.create_repo(f"{word}-{i}", repo_type="dataset").repo_id for i in range(7)}
    for sort in (None, "downloads", "trendingScore", "createdAt"):
        params = {"search": word, "limit": 3, **({"sort": sort} if sort else {})}
        items = [i["id"] for i in paginate(f"{hub.url}/api/datasets", params=params, headers={})]
        assert sorted(items) == sorted(created) and len(items) == 7
    assert sorted(ids(hub.api(None).list_datasets(search=word, author="alice"))) == sorted(created)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "abc"},
        {"limit": "0"},
        {"limit": "-5"},
        {"sort": "nonsense"},
        {"direction": "2"},
        {"expand": "nonsense"},
        {"cursor": "not-a-cursor"},
        {"cursor": "WyJ4IiwgMV0=", "sort": "downloads"},
        {"filter": [f"t{i}" for i in range(30)]},
    ],
)
def test_invalid_parameters_are_400_not_500(hub: Hub, params: dict) -> None:
    r = httpx.get(f"{hub.url}/api/models", params=params)
    assert r.status_code == 400, r.text
    assert r.json()["error"]
    assert httpx.get(f"{hub.url}/api/haven/models/tag-counts", params=params).status_code in (200, 400)


def test_huge_limit_is_capped_and_odd_searches_are_fine(hub: Hub) -> None:
    assert httpx.get(f"{hub.url}/api/models", params={"limit": 10**9}).status_code == 200
    for search in ["", " ", "\u00e9t\u00e9", "a" * 500, "x" * 20 + " y" * 50, "\x00"]:
        assert httpx.get(f"{hub.url}/api/models", params={"search": search}).status_code == 200


def test_tags_by_type_and_counts(hub: Hub) -> None:
    api = hub.api("alice")
    word = unique("facet")
    for i, lang in enumerate(("fr", "fr", "de")):
        repo_id = api.create_repo(f"{word}-{i}").repo_id
        card(api, repo_id, f"---\nlibrary_name: transformers\nlanguage: [{lang}]\nlicense: mit\n---\n")
    counts = httpx.get(f"{hub.url}/api/haven/models/tag-counts", params={"search": word}).json()
    assert counts["tags"]["transformers"] == 3 and counts["tags"]["fr"] == 2 and counts["tags"]["de"] == 1
    assert counts["byType"]["license"] == {"license:mit": 3}
    assert counts["byType"]["language"] == {"fr": 2, "de": 1}
    assert counts["repos"] == 3 and counts["exact"] is True
    narrowed = httpx.get(f"{hub.url}/api/haven/models/tag-counts", params={"search": word, "filter": "de"}).json()
    assert narrowed["tags"]["transformers"] == 1
    # Tags in use are counted for every caller at once and kept a while: an earlier test on this server may
    # have left a count from before these repositories, which is answered until one thread has counted again.
    mit = {"id": "license:mit", "label": "mit", "type": "license"}
    deadline = time.monotonic() + FACET_TTL + 15
    while mit not in (by_type := httpx.get(f"{hub.url}/api/models-tags-by-type").json()).get("license", []):
        assert time.monotonic() < deadline, by_type
        time.sleep(0.2)
    assert any(t["id"] == "transformers" for t in by_type["library"])
    assert httpx.get(f"{hub.url}/api/datasets-tags-by-type").status_code == 200
    assert httpx.get(f"{hub.url}/api/nothings-tags-by-type").status_code == 404
