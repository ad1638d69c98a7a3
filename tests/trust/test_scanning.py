"""Every commit to main is scanned in the background: crafted pickles pushed with the real client (and
with git) are flagged in model_info, paths-info, the web pages and the inference API; benign torch
checkpoints are not; leaked credentials are reported without being repeated."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd

from tests.conftest import Hub
from tests.git.conftest import Git, url
from tests.trust.conftest import file_security, scanned
from tests.trust.payloads import malicious_pickle, torch_saves, torch_style_zip

HF_TOKEN_IN_README = "hf_" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo"


def _upload(hub: Hub, repo_id: str, files: dict[str, bytes]) -> None:
    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=data) for p, data in files.items()]
    hub.api("alice").create_commit(repo_id, ops, commit_message="add files")


def test_a_malicious_pickle_is_flagged_with_its_imports(hub: Hub, repo_id: str) -> None:
    _upload(hub, repo_id, {"evil.pkl": malicious_pickle(), "README.md": b"# fine\n"})
    info = scanned(hub, repo_id)
    issues = {f["path"]: f for f in info.security_repo_status["filesWithIssues"]}
    assert list(issues) == ["evil.pkl"]
    assert issues["evil.pkl"]["level"] == "danger"
    security = file_security(hub, repo_id, "evil.pkl", "README.md")
    evil = security["evil.pkl"]
    assert evil.status == "unsafe" and evil.safe is False
    assert evil.pickle_import_scan["highestSafetyLevel"] == "dangerous"
    assert {(i["module"], i["name"], i["safety"]) for i in evil.pickle_import_scan["imports"]} == {
        ("posix", "system", "dangerous")
    }
    assert security["README.md"].status == "safe"


def test_a_zip_wrapped_torch_archive_is_opened_and_its_data_pkl_scanned(hub: Hub, repo_id: str) -> None:
    _upload(hub, repo_id, {"pytorch_model.bin": torch_style_zip(malicious_pickle())})
    info = scanned(hub, repo_id)
    assert [f["path"] for f in info.security_repo_status["filesWithIssues"]] == ["pytorch_model.bin"]
    (sibling,) = [
        s for s in hub.api("alice").model_info(repo_id, files_metadata=True).siblings if s.rfilename.endswith(".bin")
    ]
    assert sibling.lfs is not None  # read back from the blob store, not from git
    assert file_security(hub, repo_id, "pytorch_model.bin")["pytorch_model.bin"].status == "unsafe"


def test_benign_torch_checkpoints_are_safe(hub: Hub, repo_id: str, tmp_path: Path) -> None:
    paths = torch_saves(tmp_path)
    _upload(hub, repo_id, {"model.pt": paths["zip"].read_bytes(), "pytorch_model.bin": paths["legacy"].read_bytes()})
    info = scanned(hub, repo_id)
    assert info.security_repo_status["filesWithIssues"] == []
    for path, security in file_security(hub, repo_id, "model.pt", "pytorch_model.bin").items():
        assert security.status == "safe", path
        imports = {(i["module"], i["name"]) for i in security.pickle_import_scan["imports"]}
        assert ("torch._utils", "_rebuild_tensor_v2") in imports


def test_leaked_tokens_are_a_caution_that_does_not_repeat_them(hub: Hub, repo_id: str) -> None:
    _upload(hub, repo_id, {"README.md": f"# Model\n\nHF_TOKEN={HF_TOKEN_IN_README}\n".encode()})
    info = scanned(hub, repo_id)
    (issue,) = info.security_repo_status["filesWithIssues"]
    assert issue["path"] == "README.md" and issue["level"] == "warning"
    assert issue["secretsScan"]["findings"] == [{"type": "huggingface_token", "line": 3}]
    assert file_security(hub, repo_id, "README.md")["README.md"].status == "caution"
    body = httpx.get(f"{hub.url}/api/models/{repo_id}", params={"securityStatus": "true"}).text
    assert HF_TOKEN_IN_README not in body


def test_fixing_the_file_clears_the_flag(hub: Hub, repo_id: str) -> None:
    _upload(hub, repo_id, {"evil.pkl": malicious_pickle()})
    assert scanned(hub, repo_id).security_repo_status["filesWithIssues"]
    hub.api("alice").delete_file("evil.pkl", repo_id)
    assert scanned(hub, repo_id).security_repo_status["filesWithIssues"] == []


def test_expand_security_repo_status_is_served(hub: Hub, repo_id: str) -> None:
    _upload(hub, repo_id, {"evil.pkl": malicious_pickle()})
    scanned(hub, repo_id)
    r = httpx.get(f"{hub.url}/api/models/{repo_id}", params={"expand": "securityRepoStatus"})
    assert r.status_code == 200
    assert set(r.json()) == {"id", "_id", "securityRepoStatus"}
    assert r.json()["securityRepoStatus"]["filesWithIssues"][0]["path"] == "evil.pkl"


def test_a_git_push_is_scanned_too(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    repo_id = f"alice/{tmp_path.name[-20:].replace('_', '-')}".rstrip("-")
    sqlite_hub.api("alice").create_repo(repo_id)
    work = tmp_path / "clone"
    git.run("clone", "-q", url(sqlite_hub, repo_id, "alice"), str(work))
    (work / "weights.pkl").write_bytes(malicious_pickle(protocol=2))
    git.commit_all(work, "add weights")
    git.run("push", "-q", "origin", "main", cwd=work)
    info = scanned(sqlite_hub, repo_id)
    assert [f["path"] for f in info.security_repo_status["filesWithIssues"]] == ["weights.pkl"]


def test_the_web_shows_a_banner_and_a_badge(sqlite_hub: Hub, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    sqlite_hub.api("alice").create_repo(repo_id)
    _upload(sqlite_hub, repo_id, {"evil.pkl": malicious_pickle(), "notes.txt": b"nothing here\n"})
    scanned(sqlite_hub, repo_id)
    page = httpx.get(f"{sqlite_hub.url}/{repo_id}").text
    assert "data-security-banner" in page and "evil.pkl" in page and "posix.system" in page
    tree = httpx.get(f"{sqlite_hub.url}/{repo_id}/tree/main").text
    row = next(line for line in tree.splitlines() if "/blob/main/evil.pkl" in line)
    assert 'data-security="unsafe"' in row and "posix.system" in row
    notes = next(line for line in tree.splitlines() if "/blob/main/notes.txt" in line)
    assert "data-security" not in notes


def test_a_clean_repository_has_no_banner(sqlite_hub: Hub, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    sqlite_hub.api("alice").create_repo(repo_id)
    _upload(sqlite_hub, repo_id, {"notes.txt": b"nothing here\n"})
    scanned(sqlite_hub, repo_id)
    assert "data-security-banner" not in httpx.get(f"{sqlite_hub.url}/{repo_id}").text


def test_the_inference_api_refuses_a_flagged_model(sqlite_hub: Hub, repo_name: str) -> None:
    pytest.importorskip("transformers")
    repo_id = f"alice/{repo_name}"
    sqlite_hub.api("alice").create_repo(repo_id)
    config = b'{"model_type": "bert", "architectures": ["BertForSequenceClassification"]}'
    _upload(sqlite_hub, repo_id, {"config.json": config, "pytorch_model.bin": torch_style_zip(malicious_pickle())})
    scanned(sqlite_hub, repo_id)
    r = httpx.post(f"{sqlite_hub.url}/models/{repo_id}", json={"inputs": "hello"}, timeout=60)
    assert r.status_code == 422
    assert "flagged unsafe by the security scan" in r.text and "pytorch_model.bin" in r.text
    assert "posix.system" in r.text


def test_the_inference_api_never_waits_for_the_background_scan(sqlite_hub: Hub, repo_name: str) -> None:
    pytest.importorskip("transformers")
    repo_id = f"alice/{repo_name}"
    sqlite_hub.api("alice").create_repo(repo_id)
    config = b'{"model_type": "bert", "architectures": ["BertForSequenceClassification"]}'
    _upload(sqlite_hub, repo_id, {"config.json": config, "model.pt": malicious_pickle()})
    r = httpx.post(f"{sqlite_hub.url}/models/{repo_id}", json={"inputs": "hello"}, timeout=60)  # at once
    assert r.status_code == 422 and "model.pt" in r.text and "flagged unsafe" in r.text


def test_a_crafted_archive_cannot_stop_the_scan_of_other_files(hub: Hub, repo_id: str) -> None:
    broken = torch_style_zip(malicious_pickle())
    broken = broken[: len(broken) // 2] + b"\0" * 64 + broken[len(broken) // 2 :]  # offsets now lie
    _upload(hub, repo_id, {"broken.pt": broken, "evil.pkl": malicious_pickle()})
    info = scanned(hub, repo_id)
    issues = {f["path"]: f["level"] for f in info.security_repo_status["filesWithIssues"]}
    assert issues["evil.pkl"] == "danger"
    assert issues["broken.pt"] in ("danger", "warning")  # never silently "safe"


def test_scan_results_of_a_private_repo_are_as_private_as_it(sqlite_hub: Hub, repo_name: str) -> None:
    repo_id = f"alice/{repo_name}"
    sqlite_hub.api("alice").create_repo(repo_id, private=True)
    _upload(sqlite_hub, repo_id, {"evil.pkl": malicious_pickle()})
    assert scanned(sqlite_hub, repo_id).security_repo_status["filesWithIssues"]
    for user in ("bob", None):
        headers = {"authorization": f"Bearer {sqlite_hub.tokens[user]}"} if user else {}
        info = httpx.get(f"{sqlite_hub.url}/api/models/{repo_id}", params={"securityStatus": "1"}, headers=headers)
        paths = httpx.post(
            f"{sqlite_hub.url}/api/models/{repo_id}/paths-info/main",
            data={"paths": "evil.pkl", "expand": "true"},
            headers=headers,
        )
        assert info.status_code == paths.status_code == 404
        assert "evil.pkl" not in info.text + paths.text
