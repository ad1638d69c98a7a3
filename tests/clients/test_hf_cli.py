"""The `hf` command line of huggingface_hub against Haven: login, whoami, repos create, upload, download."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import Hub

HF = str(Path(sys.executable).parent / "hf")


class HfCli:
    """Runs `hf` as a logged-out user with a private HF_HOME (login stores the token there)."""

    def __init__(self, hub: Hub, home: Path) -> None:
        self.hub = hub
        self.env = {**hub.client_env(None, home), "NO_COLOR": "1"}

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [HF, *args], env=self.env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
        )
        if ok and proc.returncode != 0:
            raise AssertionError(f"hf {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def json(self, *args: str) -> dict:
        return json.loads(self.run(*args, "--format", "json").stdout)

    def login(self, token: str) -> None:
        self.run("auth", "login", "--token", token)


@pytest.fixture
def hf(sqlite_hub: Hub, tmp_path: Path) -> HfCli:
    cli = HfCli(sqlite_hub, tmp_path / "hf-home")
    cli.login(sqlite_hub.tokens["alice"])
    return cli


def test_login_stores_the_token_and_whoami_reads_it(sqlite_hub: Hub, tmp_path: Path) -> None:
    home = tmp_path / "hf-home"
    cli = HfCli(sqlite_hub, home)
    assert cli.run("auth", "whoami", ok=False).returncode != 0  # not logged in yet
    cli.login(sqlite_hub.tokens["alice"])
    assert (home / "token").read_text().strip() == sqlite_hub.tokens["alice"]
    who = cli.json("auth", "whoami")
    assert who["user"] == "alice"
    assert who["orgs"] == "acme"
    assert who["endpoint"] == sqlite_hub.url

    cli.login(sqlite_hub.read_tokens["bob"])  # a second login switches the active token
    assert cli.json("auth", "whoami")["user"] == "bob"


def test_login_with_a_bad_token_fails(sqlite_hub: Hub, tmp_path: Path) -> None:
    home = tmp_path / "hf-home"
    cli = HfCli(sqlite_hub, home)
    proc = cli.run("auth", "login", "--token", "hv_not-a-real-token", ok=False)
    assert proc.returncode != 0
    assert "Invalid user token" in proc.stderr
    assert not (home / "token").exists()


def test_repos_create(hf: HfCli, sqlite_hub: Hub, tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = hf.json("repos", "create", name)
    assert created == {"repo_id": f"alice/{name}", "url": f"{sqlite_hub.url}/alice/{name}"}
    assert sqlite_hub.api("alice").model_info(f"alice/{name}").private is False
    again = hf.run("repos", "create", name, ok=False)
    assert again.returncode != 0 and "409" in again.stderr

    private = hf.json("repos", "create", f"{name}-ds", "--repo-type", "dataset", "--private")
    assert private["url"] == f"{sqlite_hub.url}/datasets/alice/{name}-ds"
    assert sqlite_hub.api("alice").dataset_info(f"alice/{name}-ds").private is True
    assert sqlite_hub.api("bob").repo_exists(f"alice/{name}-ds", repo_type="dataset") is False
    (tmp_path / "rows.csv").write_text("a,b\n1,2\n")
    hf.run("upload", f"alice/{name}-ds", str(tmp_path / "rows.csv"), "data/rows.csv", "--repo-type", "dataset")
    got = hf.json("download", f"alice/{name}-ds", "data/rows.csv", "--repo-type", "dataset")
    assert "datasets--alice--" in got["path"]
    assert Path(got["path"]).read_text() == "a,b\n1,2\n"

    in_org = hf.json("repos", "create", f"acme/{name}")
    assert in_org["repo_id"] == f"acme/{name}"


def test_upload_and_download(hf: HfCli, sqlite_hub: Hub, tmp_path: Path) -> None:
    repo_id = f"alice/cli-{uuid.uuid4().hex[:8]}"
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("hello\n")
    (src / "sub" / "b.txt").write_text("deep\n")
    big = os.urandom(11_000_000)  # above the LFS threshold
    (src / "sub" / "big.bin").write_bytes(big)

    # `hf upload` creates the repo when it does not exist.
    first = hf.json("upload", repo_id, str(src), "--commit-message", "folder")
    sha = first["url"].rsplit("/", 1)[1]
    api = sqlite_hub.api("alice")
    assert api.model_info(repo_id).sha == sha
    assert {"a.txt", "sub/b.txt", "sub/big.bin"} <= set(api.list_repo_files(repo_id))
    api.create_tag(repo_id, tag="v1")

    (tmp_path / "a2.txt").write_text("hello again\n")
    hf.run("upload", repo_id, str(tmp_path / "a2.txt"), "a.txt")  # one file, renamed in the repo
    hf.run("upload", repo_id, str(tmp_path / "a2.txt"), "docs/a2.txt", "--revision", "dev")  # a new branch
    assert "dev" in {b.name for b in api.list_repo_refs(repo_id).branches}

    one = Path(hf.json("download", repo_id, "a.txt")["path"])
    assert one.read_text() == "hello again\n"
    old = Path(hf.json("download", repo_id, "a.txt", "--revision", "v1")["path"])
    assert old.read_text() == "hello\n"
    assert sha in str(old)  # the tag resolves to the commit the first upload made
    on_dev = Path(hf.json("download", repo_id, "docs/a2.txt", "--revision", "dev")["path"])
    assert on_dev.read_text() == "hello again\n"

    whole = Path(hf.json("download", repo_id, "--local-dir", str(tmp_path / "whole"))["path"])
    assert (whole / "a.txt").read_text() == "hello again\n"
    assert (whole / "sub" / "b.txt").read_text() == "deep\n"
    assert (whole / "sub" / "big.bin").read_bytes() == big
    assert not (whole / "docs").exists()  # only on dev

    at_v1 = Path(hf.json("download", repo_id, "--revision", "v1", "--local-dir", str(tmp_path / "v1"))["path"])
    assert (at_v1 / "a.txt").read_text() == "hello\n"
    assert (at_v1 / "sub" / "big.bin").read_bytes() == big

    cached = Path(hf.json("download", repo_id, "--revision", "dev")["path"])  # whole repo into the cache
    assert (cached / "docs" / "a2.txt").read_text() == "hello again\n"
    assert (cached / "sub" / "big.bin").read_bytes() == big

    missing = hf.run("download", repo_id, "nope.txt", ok=False)
    assert missing.returncode != 0 and "File not found" in missing.stderr


def test_private_repo_download_needs_login(hf: HfCli, sqlite_hub: Hub, tmp_path: Path) -> None:
    name = f"cli-private-{uuid.uuid4().hex[:8]}"
    hf.run("repos", "create", name, "--private")
    (tmp_path / "secret.txt").write_text("s3cret\n")
    hf.run("upload", f"alice/{name}", str(tmp_path / "secret.txt"))
    assert Path(hf.json("download", f"alice/{name}", "secret.txt")["path"]).read_text() == "s3cret\n"

    hf.run("auth", "logout")
    denied = hf.run("download", f"alice/{name}", "secret.txt", "--force-download", ok=False)
    assert denied.returncode != 0
    assert "s3cret" not in denied.stdout
