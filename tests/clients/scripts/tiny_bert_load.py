"""Load a model from the hub and from its local copy; emit both outputs for the test to compare.

usage: tiny_bert_load.py LOCAL_DIR REPO_ID SHARDED_REPO SUBFOLDER@REVISION
The copy in REPO_ID's SUBFOLDER on branch REVISION and the sharded copy only get AutoModel/AutoTokenizer.
"""

from __future__ import annotations

import sys

import torch
from _result import emit
from transformers import AutoModel, AutoTokenizer, pipeline

SENTENCES = ["the movie was great", "a really awful plot", "haven hubs are not bad", "unknownword fine"]


def hidden_states(source: str, **kwargs: str) -> dict:
    tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
    model = AutoModel.from_pretrained(source, **kwargs).eval()
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)
    return {"ids": batch["input_ids"].tolist(), "hidden": out.last_hidden_state.tolist(), "class": type(model).__name__}


def main() -> None:
    local_dir, repo_id, sharded, variant = sys.argv[1:]
    subfolder, revision = variant.split("@")
    result = {}
    for key, source in (("local", local_dir), ("hub", repo_id)):
        clf = pipeline("text-classification", model=source, top_k=None)
        result[key] = {"pipeline": clf(SENTENCES), **hidden_states(source)}
    # Without a task, pipeline() asks the hub for the model's pipeline_tag and library_name.
    inferred = pipeline(model=repo_id, top_k=None)
    result["inferred"] = {"task": inferred.task, "pipeline": inferred(SENTENCES)}
    result["sharded"] = hidden_states(sharded)
    result["subfolder"] = hidden_states(repo_id, subfolder=subfolder, revision=revision)
    emit(result)


if __name__ == "__main__":
    main()
