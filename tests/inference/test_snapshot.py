"""Models load from Haven's own storage: LFS weights are hard links to the blob store's objects, and
Xet-stored weights are rebuilt from their chunks once, into a content-addressed store."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import Hub
from tests.inference.conftest import post
from tests.inference.models import sentiment


def _snapshot_files(hub: Hub, name: str) -> list[Path]:
    return list((hub.server.data_dir / "inference" / "snapshots").glob(f"*/{name}"))


def test_lfs_weights_are_hard_links(ihub: Hub, models: dict[str, str]) -> None:
    assert post(ihub, f"/models/{models['sentiment']}", json={"inputs": "i love it"}).status_code == 200
    found = _snapshot_files(ihub, "model.safetensors")
    assert found
    for path in found:
        oid = hashlib.sha256(path.read_bytes()).hexdigest()
        blob = ihub.server.data_dir / "blobs" / "sha256" / oid[:2] / oid[2:4] / oid
        if blob.exists():
            assert os.stat(blob).st_ino == os.stat(path).st_ino  # the same bytes on disk, not a copy
    # other frameworks' files and pickles never reach a snapshot
    assert not _snapshot_files(ihub, "pytorch_model.bin") and not _snapshot_files(ihub, "onnx")


def test_xet_stored_model(ihub: Hub, models: dict[str, str], tmp_path: Path) -> None:
    """A model pushed with hf_xet (stored as chunks, no plain blob) answers as it does run locally."""
    sentiment(tmp_path, seed=11)  # weights of its own: nothing to deduplicate against
    (tmp_path / "README.md").write_text("---\npipeline_tag: text-classification\n---\npushed through Xet\n")
    ihub.api("alice").create_repo("alice/xet-sentiment")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_XET"}
    script = (
        "import sys; from huggingface_hub import HfApi; "
        "HfApi(endpoint=sys.argv[1], token=sys.argv[2]).upload_folder(repo_id='alice/xet-sentiment', folder_path=sys.argv[3])"
    )
    subprocess.run([sys.executable, "-c", script, ihub.url, ihub.tokens["alice"], str(tmp_path)], env=env, check=True)
    oid = hashlib.sha256((tmp_path / "model.safetensors").read_bytes()).hexdigest()
    assert not (ihub.server.data_dir / "blobs" / "sha256" / oid[:2] / oid[2:4] / oid).exists(), "stored as Xet"
    got = post(ihub, "/models/alice/xet-sentiment", json={"inputs": "i love it"})
    assert got.status_code == 200, got.text
    from haven.inference import runners

    local = runners.load(str(tmp_path), "text-classification", False, False)
    expected = runners.run_batch(local, "text-classification", [("i love it", {})], 512)[0]
    assert [x["label"] for x in got.json()[0]] == [x["label"] for x in expected]
    assert abs(got.json()[0][0]["score"] - expected[0]["score"]) < 1e-6
    assert (ihub.server.data_dir / "inference" / "objects" / oid).exists()
