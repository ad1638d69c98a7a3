"""Run a text-classification pipeline on a model from the hub and on its local copy.

usage: transformers_load.py LOCAL_DIR REPO_ID  -> {"local": [...], "hub": [...]}
"""

from __future__ import annotations

import json
import sys

from transformers import pipeline

SENTENCES = ["the movie was great", "a really awful plot", "haven hubs are not bad"]


def main() -> None:
    local_dir, repo_id = sys.argv[1:]
    result = {
        key: pipeline("text-classification", model=src, top_k=None)(SENTENCES)
        for key, src in (("local", local_dir), ("hub", repo_id))
    }
    print("RESULT:" + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
