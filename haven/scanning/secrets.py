"""Finding credentials committed in text files: Hugging Face, Haven, GitHub and AWS tokens and private
key blocks. Findings name the kind and line, never the secret itself (the scan results are readable by
anyone who can read the repository, and must not repeat what they warn about)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from haven.auth.service import TOKEN_PREFIX

MAX_TEXT = 1_000_000  # bytes of a text file searched
MAX_FINDINGS = 20
SNIFF = 8192  # a NUL byte in the first SNIFF bytes marks a binary file

PATTERNS: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("huggingface_token", re.compile(rb"\bhf_[A-Za-z0-9]{30,40}\b")),
    ("haven_token", re.compile(rb"\b" + re.escape(TOKEN_PREFIX.encode()) + rb"[A-Za-z0-9_-]{40}(?![A-Za-z0-9_-])")),
    ("github_token", re.compile(rb"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b")),
    ("aws_access_key_id", re.compile(rb"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    (
        "aws_secret_access_key",
        re.compile(rb"(?i)aws_?secret_?access_?key\W{0,5}[=:]\W{0,5}[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"),
    ),
    ("private_key", re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY(?: BLOCK)?-----")),
)


@dataclass(frozen=True)
class Finding:
    kind: str
    line: int

    def as_json(self) -> dict[str, object]:
        return {"type": self.kind, "line": self.line}


def is_text(head: bytes) -> bool:
    return b"\0" not in head[:SNIFF]


def find_secrets(text: bytes) -> list[Finding]:
    """Credentials in the first MAX_TEXT bytes of `text`, in order of position."""
    text = text[:MAX_TEXT]
    hits: list[tuple[int, str]] = []
    for kind, pattern in PATTERNS:
        hits.extend((m.start(), kind) for m in pattern.finditer(text))
    hits.sort()
    return [Finding(kind, text.count(b"\n", 0, pos) + 1) for pos, kind in hits[:MAX_FINDINGS]]
