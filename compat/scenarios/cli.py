"""The command line of the generation, `hf` (0.34 and later) or `huggingface-cli`: whoami, login, upload, download."""
# requires: huggingface_hub

import os
import random
import subprocess
import sys
from pathlib import Path

from _common import UID, WORK, Skip, check, fixtures, hub_api, note, run, sha256_file, step, token

BIN = Path(sys.executable).parent


def cli() -> list[str]:
    for name in ("hf", "huggingface-cli"):
        if (BIN / name).exists():
            note("cli", name)
            return [str(BIN / name)]
    raise Skip("no hf or huggingface-cli entry point")


def sh(*args: str, env: dict | None = None) -> str:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=600, check=False, env=env)
    if proc.returncode != 0:
        raise AssertionError(
            f"{Path(args[0]).name} {' '.join(args[1:3])} exited {proc.returncode}: {proc.stderr.strip()[-400:]}"
        )
    return proc.stdout


def main() -> None:
    base = cli()
    hf = base[0].endswith("/hf")
    auth = ["auth"] if hf else []
    step("whoami")
    out = sh(*base, *auth, "whoami")
    check("alice" in out, f"whoami printed {out!r}")
    step("login with bob's token, whoami, logout (HF_TOKEN unset)")
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    sh(*base, *auth, "login", "--token", token("bob"), env=env)
    out = sh(*base, *auth, "whoami", env=env)
    check("bob" in out, f"whoami after login printed {out!r}")
    sh(*base, *auth, "logout", env=env)
    step("upload a folder")
    folder = WORK / "cli-upload"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("cli text\n")
    (folder / "big.bin").write_bytes(random.Random(UID).randbytes(11 * 1024 * 1024))
    repo_id = f"alice/compat-cli-{UID}"
    sh(*base, "upload", repo_id, str(folder), ".", "--commit-message", "from the cli")
    files = set(hub_api().list_repo_files(repo_id))
    check({"sub/a.txt", "big.bin"} <= files, f"uploaded {files}")
    step("download the repo to a local dir")
    dest = WORK / "cli-download"
    sh(*base, "download", repo_id, "--local-dir", str(dest))
    for name in ("sub/a.txt", "big.bin"):
        check(sha256_file(dest / name) == sha256_file(folder / name), f"{name} differs")
    step("download one file at a tag")
    fx = fixtures()["models"]["lfs"]
    out = sh(
        *base, "download", fx["repo_id"], "config.json", "--revision", "v1", "--cache-dir", str(WORK / "cli-cache")
    )
    # The path is the last line; newer releases prefix it (`path: ...`).
    path = out.strip().splitlines()[-1].strip().removeprefix("path:").strip()
    check(sha256_file(path) == fx["revisions"]["v1"]["files"]["config.json"], "config.json@v1 differs")


if __name__ == "__main__":
    run(main)
