"""transformers and datasets load models and datasets through the mirror exactly as from the upstream."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.clients._run import run_script
from tests.mirror.conftest import MIT_CARD, ORG, SCRIPT, Mirror

TINY_BERT_PUSH = Path(__file__).parents[1] / "clients" / "scripts" / "tiny_bert_push.py"


def test_transformers_pipeline_through_the_mirror(sqlite_mirror: Mirror, tmp_path: Path) -> None:
    mirror = sqlite_mirror  # the client path does not depend on the mirror's database
    upstream = mirror.upstream.hub
    public, private, sharded = (f"{ORG}/tiny-bert{suffix}" for suffix in ("", "-private", "-sharded"))
    run_script(upstream, str(TINY_BERT_PUSH), str(tmp_path / "local"), public, private, sharded, home=tmp_path / "up")
    card = MIT_CARD.format(name="tiny bert").encode()  # the mirror's rules admit MIT-licensed repositories only
    upstream.api().upload_file(path_or_fileobj=card, path_in_repo="README.md", repo_id=public)
    env = mirror.hub.client_env("alice", tmp_path / "hf")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT.parent / "transformers_load.py"), str(tmp_path / "local"), public],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.splitlines()[-1].removeprefix("RESULT:"))
    assert result["hub"] == result["local"]


def test_load_dataset_through_the_mirror(sqlite_mirror: Mirror, tmp_path: Path) -> None:
    mirror = sqlite_mirror  # the client path does not depend on the mirror's database
    result = run_script(mirror.hub, "load_dataset.py", f"{ORG}/data", home=tmp_path / "hf")
    train = [{"id": i, "text": f"text number {i} {'x' * 20}"} for i in range(200)]
    expected = {"train": train, "test": [{"id": 1, "text": "one"}, {"id": 2, "text": "two"}]}
    assert result == {"streaming": expected, "normal": expected}
