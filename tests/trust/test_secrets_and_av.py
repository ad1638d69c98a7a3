"""The secrets scanner finds credentials by kind and line; ClamAV runs when it is installed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from haven.scanning import clamav
from haven.scanning.secrets import find_secrets

HF = "hf_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HAVEN = "hv_" + "x" * 40
GITHUB = "ghp_" + "A" * 36


def test_each_kind_of_credential_is_found_on_its_line() -> None:
    text = "\n".join(
        [
            "# config",
            f"token = '{HF}'",
            f"aws_access_key_id={AWS_ID}",
            f"aws_secret_access_key = {AWS_SECRET}",
            f"HAVEN_TOKEN={HAVEN}",
            f"gh: {GITHUB}",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
        ]
    ).encode()
    found = [(f.kind, f.line) for f in find_secrets(text)]
    assert found == [
        ("huggingface_token", 2),
        ("aws_access_key_id", 3),
        ("aws_secret_access_key", 4),
        ("haven_token", 5),
        ("github_token", 6),
        ("private_key", 7),
    ]


def test_findings_never_carry_the_secret() -> None:
    (finding,) = find_secrets(f"x={HF}".encode())
    assert HF not in str(finding.as_json())


def test_lookalikes_are_not_secrets() -> None:
    assert find_secrets(b"hf_hub_download(repo_id='gpt2')\nAKIA-not-a-key\n-----BEGIN PUBLIC KEY-----") == []


def _fake_clamscan(folder: Path, code: int, output: str) -> None:
    script = folder / "clamscan"
    script.write_text(f"#!/bin/sh\necho '{output}'\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_clamav_is_skipped_when_not_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert clamav.scan_path(tmp_path / "anything") is None


def test_clamav_verdicts_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    target = tmp_path / "file"
    target.write_bytes(b"X5O!P%@AP")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    _fake_clamscan(bin_dir, 1, f"{target}: Eicar-Test-Signature FOUND")
    assert clamav.scan_path(target) == {"virusFound": True, "virusNames": ["Eicar-Test-Signature"]}
    _fake_clamscan(bin_dir, 0, f"{target}: OK")
    assert clamav.scan_path(target) == {"virusFound": False, "virusNames": None}
    _fake_clamscan(bin_dir, 2, "LibClamAV Error: no database")
    assert clamav.scan_path(target) is None
