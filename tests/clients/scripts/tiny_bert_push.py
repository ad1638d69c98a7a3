"""Build a tiny BERT text classifier with a WordPiece tokenizer, save it locally and push it to the hub.

usage: tiny_bert_push.py LOCAL_DIR PUBLIC_REPO PRIVATE_REPO SHARDED_REPO
The same model goes to all three: SHARDED_REPO gets a sharded checkpoint (model.safetensors.index.json).
"""

from __future__ import annotations

import sys

import torch
from _result import emit
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = [
    "the",
    "a",
    "movie",
    "film",
    "was",
    "is",
    "great",
    "good",
    "bad",
    "awful",
    "fine",
    "not",
    "very",
    "really",
    "plot",
    "actors",
    "haven",
    "hub",
    "##s",
    "##ing",
    "##ed",
]


def build_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", continuing_subword_prefix="##"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=64,
    )


def build_model(vocab_size: int) -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=3,
        id2label={0: "negative", 1: "neutral", 2: "positive"},
        label2id={"negative": 0, "neutral": 1, "positive": 2},
    )
    return BertForSequenceClassification(config).eval()


def main() -> None:
    local_dir, public, private, sharded = sys.argv[1:]
    tokenizer = build_tokenizer()
    model = build_model(len(tokenizer))
    tokenizer.save_pretrained(local_dir)
    model.save_pretrained(local_dir)
    commits = {}
    for target, is_private, shard in [(public, False, None), (private, True, None), (sharded, False, "20KB")]:
        extra = {"max_shard_size": shard} if shard else {}
        model.push_to_hub(target, private=is_private, commit_message="tiny bert", **extra)
        commits[target] = str(tokenizer.push_to_hub(target, commit_message="tokenizer").oid)
    emit(commits)


if __name__ == "__main__":
    main()
