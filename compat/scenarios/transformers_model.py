"""transformers: push_to_hub a tiny locally-built BERT, then from_pretrained / pipeline give the local outputs.

Also a sharded checkpoint (model.safetensors.index.json), a tag, and a private copy only its owner can load.
"""
# requires: transformers, torch

import os

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from _common import UID, WORK, check, hub_api, raises, run, step

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "a", "movie", "was", "is", "great", "good", "bad", "awful", "not", "very", "plot", "haven", "##s"]
SENTENCES = ["the movie was great", "a very bad plot", "haven is not awful", "unknownword"]


def build(local):
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", continuing_subword_prefix="##"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=32,
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=32,
        num_labels=3,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
        label2id={"negative": 0, "neutral": 1, "positive": 2},
    )
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(local)
    tokenizer.save_pretrained(local)
    return model, tokenizer


def logits(source, **kw):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, **kw)
    model = AutoModelForSequenceClassification.from_pretrained(source, **kw).eval()
    with torch.no_grad():
        return model(**tokenizer(SENTENCES, padding=True, return_tensors="pt")).logits


def same(a, b, label: str) -> None:
    import torch

    check(a.shape == b.shape and torch.allclose(a, b, atol=1e-5), f"{label}: outputs differ from the local model")


def main() -> None:
    from transformers import AutoConfig, pipeline

    local = WORK / "tiny-bert"
    step("build the model locally")
    model, tokenizer = build(local)
    expected = logits(str(local))
    repo_id = f"alice/compat-bert-{UID}"
    step("model.push_to_hub")
    model.push_to_hub(repo_id, commit_message="tiny bert")
    step("tokenizer.push_to_hub")
    tokenizer.push_to_hub(repo_id, commit_message="tokenizer")
    api = hub_api()
    files = set(api.list_repo_files(repo_id))
    check(
        {"config.json", "tokenizer.json"} <= files and any(f.endswith(".safetensors") for f in files), f"files {files}"
    )
    api.create_tag(repo_id, tag="v1")

    step("from_pretrained from the hub")
    same(logits(repo_id), expected, "hub")
    step("from_pretrained at a tag")
    same(logits(repo_id, revision="v1"), expected, "tag v1")
    step("pipeline")
    out = pipeline("text-classification", model=repo_id)(SENTENCES[0])
    check(out[0]["label"] in {"negative", "neutral", "positive"}, f"pipeline gave {out}")

    step("sharded checkpoint via upload_folder")
    sharded = WORK / "sharded"
    model.save_pretrained(sharded, max_shard_size="20KB")
    tokenizer.save_pretrained(sharded)
    check((sharded / "model.safetensors.index.json").exists(), "save_pretrained did not shard")
    sharded_id = f"alice/compat-bert-sharded-{UID}"
    api.create_repo(sharded_id)
    api.upload_folder(repo_id=sharded_id, folder_path=str(sharded))
    same(logits(sharded_id), expected, "sharded")

    step("private push_to_hub")
    private_id = f"alice/compat-bert-private-{UID}"
    model.push_to_hub(private_id, private=True)
    tokenizer.push_to_hub(private_id, private=True)
    check(api.model_info(private_id).private, "the pushed repo is not private")
    step("private model without a token")
    # A cache of its own: with the files already cached, transformers may serve them whatever the hub says.
    raises(("OSError",), AutoConfig.from_pretrained, private_id, token=False, cache_dir=str(WORK / "anon"))
    step("private model with the owner's token")
    same(logits(private_id), expected, "private, with the owner's token")


if __name__ == "__main__":
    run(main)
