"""The core install never imports torch, and without the inference extra the endpoints answer 501."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def test_core_does_not_import_torch() -> None:
    code = (
        "import sys, haven.server, haven.app, haven.api.inference, haven.inference.pool, haven.inference.snapshot\n"
        "assert not {'torch', 'transformers', 'sentence_transformers'} & set(sys.modules), 'imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_without_the_extra_answers_501(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.testclient import TestClient

    from haven.api import inference
    from haven.app import create_app
    from haven.config import Settings

    monkeypatch.setattr(inference, "_extra", ["torch not installed"])
    app = create_app(Settings(data_dir=tmp_path, job_workers=0))
    with TestClient(app) as c:
        for path, body in (
            ("/models/alice/x", {"inputs": "hi"}),
            ("/v1/chat/completions", {"model": "alice/x", "messages": []}),
            ("/v1/embeddings", {"model": "alice/x", "input": "hi"}),
        ):
            r = c.post(path, json=body)
            assert r.status_code == 501 and "haven[inference]" in r.json()["error"]
        assert c.get("/api/inference/stats").json()["available"] is False
