"""Embed sentences with SentenceTransformer loaded from the hub and from a local directory.

usage: sentence_embed.py LOCAL_DIR REPO_ID
"""

from __future__ import annotations

import sys

from _result import emit
from sentence_transformers import SentenceTransformer

SENTENCES = ["A self-hosted hub for models.", "The cat sits on the mat.", "Embeddings should match exactly."]


def main() -> None:
    local_dir, repo_id = sys.argv[1], sys.argv[2]
    local = SentenceTransformer(local_dir, device="cpu")
    hub = SentenceTransformer(repo_id, device="cpu")
    a, b = local.encode(SENTENCES), hub.encode(SENTENCES)
    emit(
        {
            "shape": list(b.shape),
            "max_abs_diff": float(abs(a - b).max()),
            "modules": [type(m).__name__ for m in hub],
            "pooling": str(getattr(hub[1], "pooling_mode", None)),
            "normalized": [float((row**2).sum()) for row in b],
        }
    )


if __name__ == "__main__":
    main()
