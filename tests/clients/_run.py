"""Running a client library in a subprocess: HF_ENDPOINT is read when huggingface_hub is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import Hub

SCRIPTS = Path(__file__).parent / "scripts"
MARKER = "RESULT:"


def run_script(hub: Hub, script: str, *args: str, user: str | None = "alice", home: Path, timeout: float = 300) -> Any:
    """Run tests/clients/scripts/<script> as `user` (None: anonymous) with its own HF_HOME; return its JSON result."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / script), *args],
        env=hub.client_env(user, home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{script} {' '.join(args)} exited {proc.returncode}\n--- stderr ---\n{proc.stderr[-6000:]}"
            f"\n--- server log ---\n{hub.server.logs()[-3000:]}"
        )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    raise AssertionError(f"{script} printed no result:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
