"""The real hf_xet 1.8.0 client accepts what we produce: dedup response shards and serialized xorbs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from haven.xet.shard import parse_shard
from tests.xet._vectors import GENERATED

pytest.importorskip("hf_xet")
ROOT = Path(__file__).resolve().parents[2]


def _run(scenario: str, tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "HF_XET_CACHE": str(tmp_path / "cache"),
        "HF_XET_TELEMETRY_ENABLED": "false",
        "HF_XET_XORB_COMPRESSION_SCHEME_RETEST_INTERVAL": "1",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "tests.xet._hf_xet_mock", scenario],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_client_dedups_against_our_hmac_shard(tmp_path: Path) -> None:
    """Given only our global-dedup answer for A's xorb, the client uploads exactly what it did in scenario B
    (where it deduplicated against its own cache): one new xorb and a byte-identical 3-term shard."""
    result = _run("dedup", tmp_path)
    assert result["xorbs"] == ["d9f023bbe75c628bb68404fd96d1687f038c5844447fffafa5c8b1ae32dd13a2"]
    reference = (GENERATED / "B_edited_file_dedup_against_A" / "upload_0.shard").read_bytes()
    assert bytes.fromhex(result["shard"]) == reference
    assert len(parse_shard(reference).files[0].terms) == 3


def test_client_downloads_our_xorbs(tmp_path: Path) -> None:
    result = _run("download", tmp_path)
    assert result == {"identical": True, "schemes": [0, 1, 2]}
