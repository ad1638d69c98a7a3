"""transformers and datasets round trips through Xet: tests/clients' scripts and checks, run again with the
stock environment (hf_xet on) instead of HF_HUB_DISABLE_XET=1."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.clients.test_datasets as client_datasets
import tests.clients.test_transformers as client_transformers
from tests.cas._xet import Probe, xet_file_shas
from tests.conftest import Hub

# The module-scoped tiny-BERT push of tests/clients, instantiated here after xet_env (autouse, same scope).
pushed = client_transformers.pushed


@pytest.fixture(scope="module", autouse=True)
def _xet_first(xet_env: Probe) -> Probe:
    """xet_env before `pushed`, so transformers' push_to_hub runs with Xet on."""
    xet_env.take()
    return xet_env


def _lfs_shas(hub: Hub, repo_id: str, revision: str = "main") -> dict[str, str]:
    """path -> sha256 of the LFS files the tree lists with a Xet hash."""
    entries = hub.api("alice").list_repo_tree(repo_id, recursive=True, revision=revision)
    return {e.path: e.lfs.sha256 for e in entries if getattr(e, "lfs", None) is not None and e.xet_hash}


def test_transformers_push_and_load_through_xet(
    sqlite_hub: Hub, pushed: client_transformers.Pushed, xet_env: Probe, tmp_path: Path
) -> None:
    push = xet_env.take()
    assert push["xet_upload"] >= 3 and push["lfs_batch"] == 0, push  # push_to_hub to three repos, all Xet
    stored = xet_file_shas(sqlite_hub)
    public, sharded = _lfs_shas(sqlite_hub, pushed.public), _lfs_shas(sqlite_hub, pushed.sharded)
    assert "model.safetensors" in public and "model.safetensors" in _lfs_shas(sqlite_hub, pushed.private)
    assert sum(p.endswith(".safetensors") for p in sharded) > 1
    assert set(public.values()) | set(sharded.values()) <= stored
    # The copy the fixture uploaded in-process over LFS found the object already stored (as a CAS file).
    assert _lfs_shas(sqlite_hub, pushed.public, "exp")["variant/one/model.safetensors"] == public["model.safetensors"]

    # The same checks tests/clients makes, now downloading through Xet.
    client_transformers.test_push_to_hub_stores_the_model_files(sqlite_hub, pushed)
    client_transformers.test_pipeline_and_automodel_match_local_copy(sqlite_hub, pushed, tmp_path / "load")
    client_transformers.test_private_model_needs_the_owners_token(sqlite_hub, pushed, tmp_path / "private")
    load = xet_env.take()
    assert load["xet_get"] >= 4, load  # public, sharded (2+), subfolder copy, private


def test_datasets_push_and_load_through_xet(sqlite_hub: Hub, xet_env: Probe, tmp_path: Path) -> None:
    before = xet_file_shas(sqlite_hub)
    xet_env.take()
    client_datasets.test_dataset_push_to_hub(sqlite_hub, tmp_path)
    calls = xet_env.take()
    assert calls["xet_upload"] >= 2 and calls["lfs_batch"] == 0, calls
    assert len(xet_file_shas(sqlite_hub) - before) >= 4  # the parquet shards of both pushes are CAS files
    assert calls["xet_get"] >= 2, calls  # load_dataset fetched the parquet files through Xet
