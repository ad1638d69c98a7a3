"""Per-task model code, run inside a worker process (imports torch and transformers).

`load` builds what a task family needs from a snapshot directory (never remote code, never the network);
`run_batch` answers a list of requests with one forward pass where the task allows, returning one result
or `InputError` per request, so one bad input never fails the others.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import transformers
from transformers import AutoConfig, AutoTokenizer

from haven.inference.tasks import FAMILIES

AUTO = {
    "seq-cls": "AutoModelForSequenceClassification",
    "tok-cls": "AutoModelForTokenClassification",
    "mlm": "AutoModelForMaskedLM",
    "qa": "AutoModelForQuestionAnswering",
    "causal": "AutoModelForCausalLM",
    "seq2seq": "AutoModelForSeq2SeqLM",
    "img-cls": "AutoModelForImageClassification",
    "embed": "AutoModel",
}


class InputError(Exception):
    """The request's fault (bad or too large input): answered with `status`, the worker carries on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Loaded:
    family: str
    model: Any
    tokenizer: Any = None
    processor: Any = None
    sentence_transformer: Any = None
    lean: Any = None  # a lean.Plan doing what the sentence transformer's encode() does, where one applies
    nbytes: int = 0
    max_length: int = 512


def load(path: str, task: str, sentence_transformers: bool, allow_pickle: bool) -> Loaded:
    family = FAMILIES[task]
    common = {"local_files_only": True, "trust_remote_code": False}
    if family == "embed" and sentence_transformers:
        from sentence_transformers import SentenceTransformer

        from haven.inference import lean

        st = SentenceTransformer(path, device="cpu", **common)
        st.eval()
        return Loaded(
            family,
            st,
            st.tokenizer,
            sentence_transformer=st,
            lean=lean.plan(st),
            nbytes=_nbytes(st),
            max_length=st.max_seq_length,
        )
    config = AutoConfig.from_pretrained(path, **common)
    model_cls = getattr(transformers, AUTO[family])
    model = model_cls.from_pretrained(path, use_safetensors=None if allow_pickle else True, **common)
    model.eval()
    loaded = Loaded(family, model, nbytes=_nbytes(model))
    if family == "img-cls":
        from transformers import AutoImageProcessor

        loaded.processor = AutoImageProcessor.from_pretrained(path, **common)
    else:
        loaded.tokenizer = AutoTokenizer.from_pretrained(path, **common)
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        tok_limit = getattr(loaded.tokenizer, "model_max_length", None)
        options = [x for x in (limit, tok_limit) if isinstance(x, int) and 0 < x < 1_000_000]
        loaded.max_length = min(options) if options else 512
        if loaded.tokenizer.pad_token is None and loaded.tokenizer.eos_token is not None:
            loaded.tokenizer.pad_token = loaded.tokenizer.eos_token
    return loaded


def _nbytes(model: Any) -> int:
    return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])


def check_tokens(loaded: Loaded, texts: list[str], max_tokens: int) -> None:
    """Refuse (413) texts over the configured token bound. Texts with fewer bytes than the bound cannot
    exceed it (no tokenizer here makes more tokens than bytes, bar a few special ones): not tokenised."""
    long = [t for t in texts if len(t.encode()) + 8 > max_tokens]
    if not long or loaded.tokenizer is None:
        return
    for ids in loaded.tokenizer(long, add_special_tokens=True)["input_ids"]:
        if len(ids) > max_tokens:
            raise InputError(413, f"Input is too long: {len(ids)} tokens, at most {max_tokens} are accepted")


def _as_list(inputs: Any) -> tuple[list[Any], bool]:
    return (inputs, True) if isinstance(inputs, list) else ([inputs], False)


def run_batch(
    loaded: Loaded, task: str, items: list[tuple[Any, dict[str, Any]]], max_tokens: int
) -> list[Any | InputError]:
    """One result per item. Items share the parameters (the pool batches only alike requests)."""
    handler = HANDLERS[task]
    flat: list[Any] = []
    spans: list[tuple[int, int, bool] | InputError] = []
    for inputs, _ in items:
        values, was_list = _as_list(inputs)
        try:
            texts = [v for v in values if isinstance(v, str)]
            if isinstance(inputs, dict):
                texts = [str(x) for x in inputs.values() if isinstance(x, str)] + list(inputs.get("sentences", []))
            check_tokens(loaded, texts, max_tokens)
        except InputError as exc:
            spans.append(exc)
            continue
        spans.append((len(flat), len(flat) + len(values), was_list))
        flat.extend(values)
    params = items[0][1]
    results: list[Any] = []
    if flat:
        try:
            with torch.inference_mode():
                results = handler(loaded, flat, params)
        except InputError:
            if len(flat) == 1:
                raise
            # one input spoiled the batch: answer each alone so only it fails
            results = []
            for one in flat:
                try:
                    with torch.inference_mode():
                        results.extend(handler(loaded, [one], params))
                except InputError as exc:
                    results.append(exc)
    out: list[Any] = []
    for span in spans:
        if isinstance(span, InputError):
            out.append(span)
            continue
        start, end, was_list = span
        part = results[start:end]
        error = next((r for r in part if isinstance(r, InputError)), None)
        out.append(error if error else (part if was_list else part[0]))
    return out


def _encode(loaded: Loaded, texts: list[Any], **kw: Any) -> Any:
    return loaded.tokenizer(
        texts, padding=True, truncation=True, max_length=loaded.max_length, return_tensors="pt", **kw
    )


def _labels(model: Any) -> dict[int, str]:
    return {int(k): str(v) for k, v in model.config.id2label.items()}


def _scores(logits: torch.Tensor, fn: str | None, model: Any) -> torch.Tensor:
    if fn is None:
        multi = model.config.problem_type == "multi_label_classification" or model.config.num_labels == 1
        fn = "sigmoid" if multi else "softmax"
    if fn == "sigmoid":
        return logits.sigmoid()
    if fn == "softmax":
        return logits.softmax(-1)
    return logits


def _ranked(scores: list[float], labels: dict[int, str], top_k: int | None) -> list[dict[str, Any]]:
    rows = sorted(
        ({"label": labels.get(i, str(i)), "score": s} for i, s in enumerate(scores)), key=lambda r: -r["score"]
    )
    return rows[:top_k] if top_k else rows


def text_classification(loaded: Loaded, texts: list[str], params: dict[str, Any]) -> list[Any]:
    logits = loaded.model(**_encode(loaded, texts)).logits.float()
    scores = _scores(logits, params.get("function_to_apply"), loaded.model)
    labels = _labels(loaded.model)
    return [_ranked(row, labels, params.get("top_k")) for row in scores.tolist()]


def token_classification(loaded: Loaded, texts: list[str], params: dict[str, Any]) -> list[Any]:
    enc = _encode(loaded, texts, return_offsets_mapping=True, return_special_tokens_mask=True)
    offsets = enc.pop("offset_mapping").tolist()
    special = enc.pop("special_tokens_mask").tolist()
    probs = loaded.model(**enc).logits.float().softmax(-1)
    best, ids = probs.max(-1)
    labels = _labels(loaded.model)
    ignore = set(params.get("ignore_labels") or ["O"])
    out = []
    for i, text in enumerate(texts):
        rows = []
        for j, (start, end) in enumerate(offsets[i]):
            if special[i][j] or not enc["attention_mask"][i][j] or start == end:
                continue
            rows.append(
                {
                    "entity": labels[int(ids[i][j])],
                    "score": float(best[i][j]),
                    "index": j,
                    "word": loaded.tokenizer.convert_ids_to_tokens(int(enc["input_ids"][i][j])),
                    "start": start,
                    "end": end,
                }
            )
        if params.get("aggregation_strategy") == "none":
            out.append([r for r in rows if r["entity"] not in ignore])
        else:
            out.append(_group(rows, text, ignore))
    return out


def _group(rows: list[dict[str, Any]], text: str, ignore: set[str]) -> list[dict[str, Any]]:
    """Consecutive tokens of one entity (B-X then I-X, or word pieces) become one entity group."""
    groups: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for row in rows:
        label = row["entity"]
        tag, bare = (label[:1], label[2:]) if label[:2] in ("B-", "I-") else ("", label)
        piece = row["word"].startswith("##") or (current is not None and row["start"] == current["end"])
        if current is not None and bare == current["entity_group"] and (tag != "B" or piece):
            current["scores"].append(row["score"])
            current["end"] = row["end"]
            continue
        current = {"entity_group": bare, "scores": [row["score"]], "start": row["start"], "end": row["end"]}
        groups.append(current)
    out = []
    for g in groups:
        if g["entity_group"] in ignore:
            continue
        scores = g.pop("scores")
        out.append({**g, "score": sum(scores) / len(scores), "word": text[g["start"] : g["end"]]})
    return [{k: g[k] for k in ("entity_group", "score", "word", "start", "end")} for g in out]


def fill_mask(loaded: Loaded, texts: list[str], params: dict[str, Any]) -> list[Any]:
    tok = loaded.tokenizer
    if tok.mask_token_id is None:
        raise InputError(400, "This model has no mask token")
    enc = _encode(loaded, texts)
    for i, text in enumerate(texts):
        count = int((enc["input_ids"][i] == tok.mask_token_id).sum())
        if count != 1:
            raise InputError(
                400, f"Each input must contain exactly one {tok.mask_token} token (found {count} in {text[:60]!r})"
            )
    logits = loaded.model(**enc).logits.float()
    target_ids = None
    if params.get("targets"):
        target_ids = [tok.convert_tokens_to_ids(t) for t in params["targets"]]
        target_ids = [t for t in target_ids if t is not None and t != tok.unk_token_id]
        if not target_ids:
            raise InputError(400, "None of the targets is in the model's vocabulary")
    out = []
    for i in range(len(texts)):
        ids = enc["input_ids"][i][enc["attention_mask"][i].bool()]
        pos = int((ids == tok.mask_token_id).nonzero()[0][0])
        probs = logits[i][pos].softmax(-1)
        if target_ids is not None:
            candidates = torch.tensor(target_ids)
            values = probs[candidates]
            order = values.argsort(descending=True)[: params["top_k"]]
            picks = [(float(values[o]), int(candidates[o])) for o in order]
        else:
            values, indices = probs.topk(min(params["top_k"], probs.shape[-1]))
            picks = list(zip(values.tolist(), indices.tolist(), strict=True))
        rows = []
        for score, token in picks:
            filled = ids.clone()
            filled[pos] = token
            rows.append(
                {
                    "score": score,
                    "token": token,
                    "token_str": tok.decode([token]).strip(),
                    "sequence": tok.decode(filled, skip_special_tokens=True),
                }
            )
        out.append(rows)
    return out


# One forward pass more costs about as much as this many padded tokens: a pass of 16 short texts takes 8 ms
# more than half a pass of 32 with MiniLM on this 2-core CPU, where a padded token costs 0.22 ms (1 thread).
SPLIT_COST_TOKENS = 64


def length_groups(lengths: list[int], split_cost: int = SPLIT_COST_TOKENS) -> list[list[int]]:
    """Indices of texts with these token counts, grouped for padded forward passes. A batch is padded to its
    longest text, so one long text makes every short one cost as much as it does: sorted by length, the
    batch is cut where the padding saved outweighs `split_cost` tokens for each pass more (fewest padded
    tokens plus passes, exactly, over the cuts between distinct lengths). Alike lengths stay one pass."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    sizes = [lengths[i] for i in order]
    ends = [k for k in range(1, len(sizes) + 1) if k == len(sizes) or sizes[k] != sizes[k - 1]]
    best: dict[int, tuple[int, int]] = {0: (0, 0)}  # group end -> (cost up to it, the group's start)
    for end in ends:
        best[end] = min((best[start][0] + split_cost + (end - start) * sizes[end - 1], start) for start in best)
    groups, end = [], len(sizes)
    while end:
        start = best[end][1]
        groups.append(order[start:end])
        end = start
    return groups[::-1]


def _grouped(loaded: Loaded, texts: list[str], run: Callable[[list[str]], Any]) -> Any:
    """`run` (texts -> a tensor with one row per text, or a list with one item per text) over the length
    groups of `texts` (see `length_groups`), joined back in the order of `texts`: one call when the
    lengths are alike. A text's result is what a pass of it alone gives (padding is masked)."""
    if len(texts) < 2:
        return run(texts)
    lengths = [len(ids) for ids in loaded.tokenizer(texts, truncation=True, max_length=loaded.max_length)["input_ids"]]
    return _in_groups(lengths, lambda group: run([texts[i] for i in group]))


def _in_groups(lengths: list[int], run: Callable[[list[int]], Any]) -> Any:
    """`run` (indices -> a tensor with one row per index, or a list with one item per index) over the
    length groups of these token counts, joined back in index order; one call, on every index in order,
    when the lengths are alike."""
    groups = length_groups(lengths)
    if len(groups) < 2:
        return run(list(range(len(lengths))))
    parts = [run(group) for group in groups]
    order = [i for group in groups for i in group]
    if isinstance(parts[0], torch.Tensor):
        joined = torch.cat(parts)
        return joined[torch.tensor(order).argsort()]
    out: list[Any] = [None] * len(lengths)
    for i, result in zip(order, (r for part in parts for r in part), strict=True):
        out[i] = result
    return out


def _embed(loaded: Loaded, texts: list[str], normalize: bool) -> torch.Tensor:
    """Sentence embeddings: the sentence-transformers pipeline (its `lean.Plan` where it has one), else mean
    pooling of the last hidden states."""
    plan = loaded.lean
    if plan is not None and all(isinstance(t, str) for t in texts):
        enc = plan.tokenize(texts)  # once: its padding tells the groups apart, its rows feed each pass
        out = _in_groups(plan.lengths(enc), lambda group: plan.embed_tokens(plan.rows(enc, group)))
        return torch.nn.functional.normalize(out, p=2, dim=1) if normalize else out
    if loaded.sentence_transformer is not None:
        st = loaded.sentence_transformer

        def run(part: list[str]) -> Any:
            return st.encode(
                part,
                batch_size=max(len(part), 1),
                convert_to_tensor=True,
                normalize_embeddings=normalize,
                show_progress_bar=False,
            )

    else:

        def run(part: list[str]) -> Any:
            enc = _encode(loaded, part)
            hidden = loaded.model(**enc).last_hidden_state.float()
            mask = enc["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1) if normalize else pooled

    return _grouped(loaded, texts, run)


def feature_extraction(loaded: Loaded, texts: list[str], params: dict[str, Any]) -> list[Any]:
    if loaded.sentence_transformer is not None:
        return _embed(loaded, texts, params.get("normalize", False)).tolist()

    def run(part: list[str]) -> list[Any]:
        enc = _encode(loaded, part)
        hidden = loaded.model(**enc).last_hidden_state.float()
        return [hidden[i][enc["attention_mask"][i].bool()].tolist() for i in range(len(part))]

    return _grouped(loaded, texts, run)


def sentence_similarity(loaded: Loaded, pairs: list[dict[str, Any]], params: dict[str, Any]) -> list[Any]:
    out = []
    for pair in pairs:
        emb = _embed(loaded, [pair["source_sentence"], *pair["sentences"]], True)
        out.append((emb[1:] @ emb[0]).tolist())
    return out


def embeddings(loaded: Loaded, texts: list[str], params: dict[str, Any]) -> list[Any]:
    emb = _embed(loaded, texts, False)
    if params.get("dimensions"):
        emb = emb[:, : params["dimensions"]]
    return emb.tolist()


def question_answering(loaded: Loaded, pairs: list[dict[str, Any]], params: dict[str, Any]) -> list[Any]:
    tok = loaded.tokenizer
    enc = tok(
        [p["question"] for p in pairs],
        [p["context"] for p in pairs],
        padding=True,
        truncation="only_second",
        max_length=loaded.max_length,
        return_offsets_mapping=True,
        return_tensors="pt",
    )
    offsets = enc.pop("offset_mapping").tolist()
    out_model = loaded.model(**{k: v for k, v in enc.items() if k in ("input_ids", "attention_mask", "token_type_ids")})
    out = []
    for i, pair in enumerate(pairs):
        in_context = torch.tensor([s == 1 for s in enc.sequence_ids(i)])
        start = out_model.start_logits[i].float().masked_fill(~in_context, -1e9).softmax(-1)
        end = out_model.end_logits[i].float().masked_fill(~in_context, -1e9).softmax(-1)
        scores = torch.triu(start[:, None] * end[None, :])
        scores = torch.tril(scores, params["max_answer_len"] - 1)
        k = params.get("top_k") or 1
        values, flat = scores.flatten().topk(min(k, scores.numel()))
        answers = []
        for value, index in zip(values.tolist(), flat.tolist(), strict=True):
            s, e = divmod(index, scores.shape[1])
            a, b = offsets[i][s][0], offsets[i][e][1]
            answers.append({"answer": pair["context"][a:b], "score": value, "start": a, "end": b})
        out.append(answers if params.get("top_k") else answers[0])
    return out


def zero_shot(loaded: Loaded, texts: list[str], params: dict[str, Any]) -> list[Any]:
    label2id = {str(k).lower(): int(v) for k, v in loaded.model.config.label2id.items()}
    entail = next((v for k, v in label2id.items() if k.startswith("entail")), None)
    contra = next((v for k, v in label2id.items() if k.startswith("contra")), None)
    if entail is None:
        raise InputError(400, "This model is not a natural-language-inference model (no entailment label)")
    labels = params["candidate_labels"]
    premises = [t for t in texts for _ in labels]
    hypotheses = [params["hypothesis_template"].format(label) for _ in texts for label in labels]
    enc = loaded.tokenizer(
        premises, hypotheses, padding=True, truncation="only_first", max_length=loaded.max_length, return_tensors="pt"
    )
    logits = loaded.model(**enc).logits.float().view(len(texts), len(labels), -1)
    out = []
    for row in logits:
        if params["multi_label"] or len(labels) == 1:
            pair = row[:, [contra if contra is not None else 0, entail]]
            scores = pair.softmax(-1)[:, 1]
        else:
            scores = row[:, entail].softmax(-1)
        ranked = sorted(zip(labels, scores.tolist(), strict=True), key=lambda x: -x[1])
        out.append([{"label": label, "score": score} for label, score in ranked])
    return out


def _generate_kwargs(loaded: Loaded, params: dict[str, Any], default_new: int) -> dict[str, Any]:
    temperature = params.get("temperature")
    sample = params.get("do_sample")
    if sample is None:
        sample = bool(temperature) or params.get("top_p") is not None or bool(params.get("top_k"))
    kw: dict[str, Any] = {"max_new_tokens": params.get("max_new_tokens") or default_new, "do_sample": bool(sample)}
    if sample:
        kw["temperature"] = temperature or 1.0
        kw["top_p"] = params.get("top_p") or 1.0
        kw["top_k"] = params.get("top_k") or 0
    if params.get("repetition_penalty"):
        kw["repetition_penalty"] = params["repetition_penalty"]
    tok = loaded.tokenizer
    kw["pad_token_id"] = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    if params.get("seed") is not None:
        torch.manual_seed(params["seed"])
    return kw


def text2text(loaded: Loaded, texts: list[str], params: dict[str, Any], key: str = "generated_text") -> list[Any]:
    enc = _encode(loaded, texts)
    ids = loaded.model.generate(**enc, **_generate_kwargs(loaded, params, 64))
    return [{key: t} for t in loaded.tokenizer.batch_decode(ids, skip_special_tokens=True)]


def image_classification(loaded: Loaded, images: list[bytes], params: dict[str, Any]) -> list[Any]:
    from PIL import Image, UnidentifiedImageError

    pictures = []
    for data in images:
        try:
            pictures.append(Image.open(io.BytesIO(data)).convert("RGB"))
        except (UnidentifiedImageError, OSError, ValueError):
            raise InputError(400, "inputs is not an image this server can read") from None
    pixels = loaded.processor(images=pictures, return_tensors="pt")
    logits = loaded.model(**pixels).logits.float()
    scores = _scores(logits, params.get("function_to_apply"), loaded.model)
    labels = _labels(loaded.model)
    return [_ranked(row, labels, params.get("top_k")) for row in scores.tolist()]


class _Streamer:
    """Receives generated token ids from `generate` and passes on text as soon as it is final: held back
    while it ends in an incomplete character or could be the start of a stop sequence."""

    def __init__(
        self, loaded: Loaded, stop: list[str], emit: Callable[[str, int], None], cancelled: Callable[[], bool]
    ):
        self.tok = loaded.tokenizer
        self.stop = stop
        self.emit = emit
        self.cancelled = cancelled
        self.ids: list[int] = []
        self.sent = 0
        self.text = ""
        self.prompt_seen = False
        self.stopped = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        for token in value.flatten().tolist():
            if self.stopped:
                return
            self.ids.append(int(token))
            self.text = self.tok.decode(self.ids, skip_special_tokens=True)
            for s in self.stop:
                at = self.text.find(s)
                if at >= 0:
                    self.text = self.text[:at]
                    self.stopped = True
            if self.stopped:
                self._flush(len(self.text), int(token))
                return
            hold = max((len(s) - 1 for s in self.stop), default=0)
            final = len(self.text) - hold
            if self.text.endswith("\ufffd"):
                final = min(final, len(self.text) - 1)
            self._flush(final, int(token))

    def _flush(self, upto: int, token: int) -> None:
        if upto > self.sent:
            self.emit(self.text[self.sent : upto], token)
            self.sent = upto

    def end(self) -> None:
        self._flush(len(self.text), self.ids[-1] if self.ids else 0)


class _StopWhen(transformers.StoppingCriteria):
    def __init__(self, streamer: _Streamer) -> None:
        self.streamer = streamer

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        done = self.streamer.stopped or self.streamer.cancelled()
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool)


def generate(
    loaded: Loaded,
    task: str,
    inputs: Any,
    params: dict[str, Any],
    emit: Callable[[str, int], None],
    cancelled: Callable[[], bool],
    max_tokens: int,
) -> dict[str, Any]:
    """One text generation or chat completion, token by token: `emit(text, token_id)` as text becomes final.
    Returns the full text, the finish reason and token counts."""
    tok = loaded.tokenizer
    if task == "conversational":
        if not getattr(tok, "chat_template", None):
            raise InputError(400, "This model has no chat template: use text generation instead")
        try:
            prompt = tok.apply_chat_template(inputs, add_generation_prompt=True, tokenize=False)
        except Exception as exc:  # a template's own raise_exception(): the messages broke its rules
            raise InputError(400, f"The chat template refused these messages: {exc}") from None
        enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
    else:
        enc = tok(inputs, return_tensors="pt")
    n_prompt = enc["input_ids"].shape[1]
    if n_prompt > max_tokens:
        raise InputError(413, f"Input is too long: {n_prompt} tokens, at most {max_tokens} are accepted")
    kw = _generate_kwargs(loaded, params, 256 if task == "conversational" else 50)
    room = loaded.max_length - n_prompt
    if room <= 0:
        raise InputError(413, f"Input is too long for this model: {n_prompt} tokens, its limit is {loaded.max_length}")
    kw["max_new_tokens"] = min(kw["max_new_tokens"], room)
    streamer = _Streamer(loaded, params.get("stop") or [], emit, cancelled)
    with torch.inference_mode():
        loaded.model.generate(**enc, **kw, streamer=streamer, stopping_criteria=[_StopWhen(streamer)])
    streamer.end()
    eos = tok.eos_token_id
    hit_eos = bool(streamer.ids) and streamer.ids[-1] == eos
    finish = "stop" if streamer.stopped or hit_eos or len(streamer.ids) < kw["max_new_tokens"] else "length"
    return {
        "text": streamer.text,
        "finish_reason": finish,
        "prompt_tokens": n_prompt,
        "completion_tokens": len(streamer.ids),
        "prompt": tok.decode(enc["input_ids"][0], skip_special_tokens=True),
    }


HANDLERS: dict[str, Callable[[Loaded, list[Any], dict[str, Any]], list[Any]]] = {
    "text-classification": text_classification,
    "token-classification": token_classification,
    "fill-mask": fill_mask,
    "feature-extraction": feature_extraction,
    "sentence-similarity": sentence_similarity,
    "embeddings": embeddings,
    "question-answering": question_answering,
    "zero-shot-classification": zero_shot,
    "summarization": lambda m, t, p: text2text(m, t, p, "summary_text"),
    "translation": lambda m, t, p: text2text(m, t, p, "translation_text"),
    "text2text-generation": text2text,
    "image-classification": image_classification,
}
