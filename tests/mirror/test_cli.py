"""`haven mirror pull|sync` pre-seed the mirror; `haven export|import` carry a repository across an air gap."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from huggingface_hub.errors import RepositoryNotFoundError

from tests.mirror.conftest import ORG, Mirror, client, start


def blob_path(mirror: Mirror, data: bytes) -> Path:
    oid = hashlib.sha256(data).hexdigest()
    return mirror.hub.server.data_dir / "blobs" / "sha256" / oid[:2] / oid[2:4] / oid


def test_pull_fetches_every_file_of_the_revision(mirror: Mirror) -> None:
    repo_id = f"{ORG}/pulled-model"
    files = mirror.upstream.files[repo_id]
    mirror.hub.server.cli("mirror", "pull", repo_id, "--revision", "main")
    assert blob_path(mirror, files["weights.bin"]).read_bytes() == files["weights.bin"]
    assert blob_path(mirror, files["sub/extra.bin"]).read_bytes() == files["sub/extra.bin"]
    assert mirror.hub.api().model_info(repo_id).sha == mirror.upstream.commits[repo_id]


def test_sync_pulls_a_list_and_reports_failures(mirror: Mirror, tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(f"# pre-seed\n{ORG}/pulled-model@main\ndataset:{ORG}/data\n")
    mirror.hub.server.cli("mirror", "sync", "--file", str(listing))
    assert blob_path(mirror, mirror.upstream.files[f"{ORG}/data"]["train.csv"]).exists()
    listing.write_text(f"{ORG}/denied-model\n{ORG}/pulled-model\n")
    with pytest.raises(RuntimeError, match="denied-model"):
        mirror.hub.server.cli("mirror", "sync", "--file", str(listing))


def test_export_import_round_trip_across_an_air_gap(sqlite_mirror: Mirror, tmp_path: Path) -> None:
    mirror = sqlite_mirror  # one air-gapped hub is enough
    repo_id = f"{ORG}/pulled-model"
    mirror.hub.server.cli("mirror", "pull", repo_id)
    bundle = tmp_path / "pulled.tar"
    mirror.hub.server.cli("export", repo_id, str(bundle))
    with tarfile.open(bundle) as tar:
        assert {"metadata.json", "repo.bundle"} <= set(tar.getnames())
    isolated = start("haven-airgap-", {"HAVEN_BLOB_PORT": "0"})  # no upstream configured: fully offline
    try:
        tampered = tmp_path / "tampered.tar"
        _tamper(bundle, tampered)
        with pytest.raises(RuntimeError, match="sha256"):
            isolated.server.cli("import", str(tampered))
        with pytest.raises(RepositoryNotFoundError):  # a refused import leaves nothing behind
            isolated.api().model_info(repo_id)
        isolated.server.cli("import", str(bundle))
        got = client(isolated, "download", repo_id, home=tmp_path / "hf")
        assert got["commit"] == mirror.upstream.commits[repo_id]
        expected = {p: hashlib.sha256(d).hexdigest() for p, d in mirror.upstream.files[repo_id].items()}
        assert {p: d for p, d in got["files"].items() if p != ".gitattributes"} == expected
        with pytest.raises(Exception, match="read-only mirror"):
            isolated.api("root").upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo_id)
    finally:
        isolated.server.stop()


def _tamper(source: Path, dest: Path) -> None:
    """The same bundle with one byte of one large file changed."""
    with tarfile.open(source) as src, tarfile.open(dest, "w") as out:
        changed = False
        for member in src.getmembers():
            data = src.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            if member.name.startswith("blobs/") and not changed:
                data, changed = bytes([data[0] ^ 1]) + data[1:], True
            out.addfile(member, io.BytesIO(data))
