"""The pre-receive hook of every push Haven serves: `python -m haven.git.hook` (see smart_http.HOOK_SCRIPT).

git runs it after the pack is received and before any ref moves, with the new objects in quarantine. It
imports nothing but the standard library, so it starts in milliseconds: it passes the ref updates and
git's quarantine variables to the Haven server process that started this receive-pack (over the Unix
socket named in HAVEN_HOOK_SOCKET), which checks the push with its own database and settings. Exit 0
accepts the push; anything else, including a server that cannot be reached, refuses it, and git then
removes the quarantined objects. What is printed to stderr reaches the pusher as `remote:` lines.
"""

from __future__ import annotations

import json
import os
import socket
import sys

QUARANTINE_ENV = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")
TIMEOUT = 600.0


def main() -> int:
    path = os.environ.get("HAVEN_HOOK_SOCKET")
    if not path:
        print("Push refused: pushes are accepted only through Haven's HTTP endpoint.", file=sys.stderr)
        return 1
    updates = []
    for line in sys.stdin.read().splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            updates.append(parts)
    request = {
        "nonce": os.environ.get("HAVEN_HOOK_NONCE", ""),
        "updates": updates,
        "env": {k: os.environ[k] for k in QUARANTINE_ENV if k in os.environ},
    }
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(TIMEOUT)
            s.connect(path)
            s.sendall(json.dumps(request).encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
        verdict = json.loads(answer)
    except (OSError, ValueError) as e:
        print(f"Push refused: the server did not answer the pre-receive check ({e}).", file=sys.stderr)
        return 1
    message = str(verdict.get("message") or "")
    if message:
        print(message.rstrip("\n"), file=sys.stderr)
    return 0 if verdict.get("ok") is True else 1


if __name__ == "__main__":
    sys.exit(main())
