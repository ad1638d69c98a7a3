"""Fixtures for the git tests: the real git and git-lfs binaries, in a HOME of their own, against a real server."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Hub
from tests.support import tempdir


@dataclass
class Git:
    """git and git-lfs with a private HOME (`git lfs install` done), never prompting, never reading /etc/gitconfig."""

    home: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
        input: bytes | None = None,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env={**self.env, **(env or {})},
            input=input.decode() if input is not None else None,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def run_bytes(self, *args: str, cwd: Path | None = None, input: bytes | None = None) -> bytes:
        proc = subprocess.run(["git", *args], cwd=cwd, env=self.env, input=input, capture_output=True, check=True)
        return proc.stdout

    def out(self, *args: str, cwd: Path | None = None) -> str:
        return self.run(*args, cwd=cwd).stdout.strip()

    def commit_all(self, cwd: Path, message: str) -> str:
        self.run("add", "-A", cwd=cwd)
        self.run("commit", "-q", "-m", message, cwd=cwd)
        return self.out("rev-parse", "HEAD", cwd=cwd)


@pytest.fixture(scope="session")
def git() -> Git:
    home = tempdir("haven-git-home-")
    g = Git(home)
    for key, value in (
        ("user.name", "Git Tester"),
        ("user.email", "tester@example.org"),
        ("init.defaultBranch", "main"),
        ("advice.detachedHead", "false"),
    ):
        g.run("config", "--global", key, value)
    g.run("lfs", "install")
    return g


def url(hub: Hub, path: str, user: str | None = None, read_only: bool = False) -> str:
    """The clone URL of `path` (a repo id, or datasets/..., spaces/...), with a token as password if `user`."""
    host = hub.url.removeprefix("http://")
    if user is None:
        return f"http://{host}/{path}"
    token = (hub.read_tokens if read_only else hub.tokens)[user]
    return f"http://{user}:{token}@{host}/{path}"


def unique(prefix: str = "g") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"
