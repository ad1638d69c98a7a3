"""The shortest round trip: create, upload, read back, on both databases."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Hub


def test_upload_and_download_round_trip(hub: Hub, repo_id: str, tmp_path: Path, cache_dir: Path) -> None:
    from huggingface_hub import hf_hub_download

    api = hub.api("alice")
    (tmp_path / "config.json").write_text('{"hidden_size": 8}')
    api.upload_file(path_or_fileobj=tmp_path / "config.json", path_in_repo="config.json", repo_id=repo_id)
    path = hf_hub_download(repo_id, "config.json", endpoint=hub.url, cache_dir=cache_dir, token=False)
    assert Path(path).read_text() == '{"hidden_size": 8}'
    assert api.model_info(repo_id).sha == api.list_repo_refs(repo_id).branches[0].target_commit
