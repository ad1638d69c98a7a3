"""Dataset.push_to_hub several times to the same repo: each push replaces the previous one's shards.

usage: push_dataset.py REPO_ID PUSH_JSON...  (each {"splits": {"split": [rows]}, "num_shards": {"split": n}})
"""

from __future__ import annotations

import json
import os
import sys

# datasets imports torch when it is installed (seconds per process); this script needs none of it.
os.environ.setdefault("USE_TORCH", "0")

from _result import emit
from datasets import Dataset, DatasetDict


def main() -> None:
    repo_id = sys.argv[1]
    commits = []
    for payload in sys.argv[2:]:
        push = json.loads(payload)
        dd = DatasetDict({name: Dataset.from_list(rows) for name, rows in push["splits"].items()})
        commits.append(dd.push_to_hub(repo_id, commit_message="push", num_shards=push.get("num_shards")).oid)
    emit(commits)


if __name__ == "__main__":
    main()
