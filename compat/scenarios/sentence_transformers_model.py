"""sentence-transformers: a SentenceTransformer built locally from a tiny BERT, pushed, then loaded from the hub."""
# requires: sentence_transformers, torch

import os

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from _common import UID, WORK, check, hub_api, run, step
from transformers_model import build

SENTENCES = ["the movie was great", "a very bad plot", "haven is not awful"]


def main() -> None:
    import numpy as np
    from sentence_transformers import SentenceTransformer, models

    step("build a SentenceTransformer locally")
    build(WORK / "bert")
    encoder = models.Transformer(str(WORK / "bert"), max_seq_length=32)
    st = SentenceTransformer(
        modules=[encoder, models.Pooling(encoder.get_word_embedding_dimension(), "mean")], device="cpu"
    )
    local = WORK / "st"
    st.save(str(local))
    expected = SentenceTransformer(str(local), device="cpu").encode(SENTENCES)
    repo_id = f"alice/compat-st-{UID}"
    step("push_to_hub")
    st.push_to_hub(repo_id, commit_message="tiny sentence transformer")
    check("modules.json" in hub_api().list_repo_files(repo_id), "modules.json not pushed")
    step("SentenceTransformer(repo_id)")
    got = SentenceTransformer(repo_id, device="cpu").encode(SENTENCES)
    check(got.shape == expected.shape and np.allclose(got, expected, atol=1e-5), "embeddings differ")


if __name__ == "__main__":
    run(main)
