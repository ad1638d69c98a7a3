"""Who can load a private model: anonymous, another user's token, the owner's token (HF_TOKEN).

usage: tiny_bert_access.py REPO_ID OTHER_TOKEN
"""

from __future__ import annotations

import sys

from _result import emit
from transformers import AutoConfig, pipeline


def attempt(repo_id: str, token: str | bool | None) -> str:
    try:
        config = AutoConfig.from_pretrained(repo_id, token=token)
    except OSError as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return config.model_type


def main() -> None:
    repo_id, other = sys.argv[1], sys.argv[2]
    result = {"anonymous": attempt(repo_id, False), "other": attempt(repo_id, other), "owner": attempt(repo_id, None)}
    clf = pipeline("text-classification", model=repo_id)
    result["pipeline"] = clf("the movie was great")
    emit(result)


if __name__ == "__main__":
    main()
