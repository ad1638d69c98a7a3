"""ClamAV, when the server has it: `clamdscan` (the daemon, fast) or `clamscan` on PATH; skipped otherwise."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

TIMEOUT = 300.0


def scanner() -> list[str] | None:
    """The command to run, or None when ClamAV is not installed."""
    if shutil.which("clamdscan"):
        return ["clamdscan", "--no-summary", "--fdpass"]
    if shutil.which("clamscan"):
        return ["clamscan", "--no-summary"]
    return None


def scan_path(path: Path) -> dict[str, object] | None:
    """The Hub's `avScan` shape for one file, or None when ClamAV is missing or could not judge it."""
    command = scanner()
    if command is None:
        return None
    try:
        proc = subprocess.run([*command, str(path)], capture_output=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode == 0:
        return {"virusFound": False, "virusNames": None}
    if proc.returncode == 1:
        names = [
            line.rsplit(":", 1)[1].strip().removesuffix(" FOUND")
            for line in proc.stdout.decode("utf-8", "replace").splitlines()
            if line.endswith(" FOUND") and ":" in line
        ]
        return {"virusFound": True, "virusNames": names or ["unknown"]}
    return None  # 2: an error (no database, unreadable file): not a verdict
