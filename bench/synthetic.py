"""Load N synthetic repositories straight into a Haven database, fast (bulk inserts; no git behind them).

Realistic shapes rather than uniform noise: authors and tags are Zipf-distributed (a few authors own
thousands of repositories, most own one or two; `transformers` is on most models, most tags on few),
names are built from model-family words ("tiny-bert-base", "Llama-2-7B-GGUF"), card text is drawn
from a Zipf vocabulary, downloads are heavy-tailed. Rows, tags and search documents (through the
search package's own term functions, so searches behave as on pushed repositories) are written with
executemany on SQLite and COPY on PostgreSQL. Reused by bench/search_1m.py and the web benchmarks:

    from synthetic import load
    load("sqlite:////tmp/x/haven.db", 1_000_000)      # the database must be migrated (Hub.open does it)
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from haven.db import Database
from haven.repos.models import Repo, RepoTag
from haven.repos.tagsig import signature
from haven.search.postgres import fill_rank
from haven.search.rank import rank_key
from haven.search.text import body_terms, name_tokens

FAMILIES = [
    "bert",
    "roberta",
    "deberta",
    "distilbert",
    "electra",
    "albert",
    "xlm",
    "t5",
    "flan",
    "bart",
    "pegasus",
    "gpt2",
    "gpt",
    "neo",
    "llama",
    "mistral",
    "mixtral",
    "qwen",
    "phi",
    "gemma",
    "falcon",
    "mpt",
    "bloom",
    "opt",
    "whisper",
    "wav2vec",
    "hubert",
    "vit",
    "deit",
    "swin",
    "convnext",
    "resnet",
    "efficientnet",
    "yolo",
    "detr",
    "sam",
    "clip",
    "blip",
    "llava",
    "siglip",
    "stable",
    "diffusion",
    "sdxl",
    "controlnet",
    "minilm",
    "mpnet",
    "e5",
    "bge",
    "gte",
    "instructor",
    "codegen",
    "starcoder",
    "santacoder",
    "deepseek",
    "yi",
    "olmo",
    "tinyllama",
    "zephyr",
    "openchat",
    "vicuna",
]
SIZES = [
    "tiny",
    "mini",
    "small",
    "base",
    "medium",
    "large",
    "xl",
    "xxl",
    "1b",
    "2b",
    "3b",
    "7b",
    "8b",
    "13b",
    "14b",
    "34b",
    "70b",
    "125m",
    "350m",
]
SUFFIXES = [
    "finetuned",
    "instruct",
    "chat",
    "gguf",
    "awq",
    "gptq",
    "lora",
    "qlora",
    "merged",
    "dpo",
    "sft",
    "v1",
    "v2",
    "v3",
    "uncased",
    "cased",
    "squad",
    "imdb",
    "sst2",
    "mnli",
    "conll",
    "ner",
    "sentiment",
    "summarization",
    "translation",
    "en",
    "fr",
    "de",
    "multilingual",
]
LIBRARIES = [
    "transformers",
    "pytorch",
    "safetensors",
    "gguf",
    "diffusers",
    "sentence-transformers",
    "timm",
    "peft",
    "onnx",
    "keras",
    "mlx",
]
TASKS = [
    "text-generation",
    "text-classification",
    "token-classification",
    "feature-extraction",
    "automatic-speech-recognition",
    "image-classification",
    "text-to-image",
    "fill-mask",
    "question-answering",
    "summarization",
    "translation",
    "sentence-similarity",
    "object-detection",
    "image-text-to-text",
    "text2text-generation",
]
LANGUAGES = ["en", "fr", "de", "es", "zh", "ja", "ru", "pt", "it", "ko", "ar", "hi", "nl", "pl", "tr", "vi"]
LICENSES = ["apache-2.0", "mit", "other", "cc-by-4.0", "llama2", "openrail", "cc-by-nc-4.0", "gpl-3.0", "bsd-3-clause"]
OTHER_TAGS = [
    "endpoints_compatible",
    "text-generation-inference",
    "autotrain",
    "conversational",
    "region:us",
    "merge",
    "4-bit",
]
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "te",
    "su",
    "no",
    "vi",
    "be",
    "da",
    "ge",
    "ho",
    "ji",
    "ku",
    "ma",
    "ne",
    "pa",
    "ri",
    "so",
    "tu",
    "wa",
    "ze",
]
ML_WORDS = [
    "model",
    "trained",
    "fine",
    "tuned",
    "dataset",
    "accuracy",
    "evaluation",
    "training",
    "results",
    "language",
    "tokens",
    "parameters",
    "checkpoint",
    "inference",
    "license",
    "usage",
    "limitations",
    "bias",
    "benchmark",
    "epochs",
    "learning",
    "rate",
    "batch",
    "size",
    "optimizer",
    "adam",
    "loss",
    "validation",
    "test",
    "split",
    "metrics",
    "f1",
    "precision",
    "recall",
    "architecture",
    "layers",
    "hidden",
    "attention",
    "heads",
    "vocabulary",
    "pretrained",
    "corpus",
    "wikipedia",
    "books",
    "code",
    "instructions",
    "chat",
    "assistant",
]


def zipf_weights(n: int, s: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


@dataclass
class Shape:
    authors: int
    vocabulary: int = 20_000
    words_per_card: int = 40
    private_share: float = 0.02


def _vocabulary(rng: random.Random, n: int) -> list[str]:
    words = list(ML_WORDS) + list(FAMILIES)
    seen = set(words)
    while len(words) < n:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def rows(n: int, seed: int = 7, first_id: int = 1, first_account: int = 1) -> Iterator[dict]:
    """The synthetic repositories, one dict per row, with `_tags` and `_readme` for the side tables."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    shape = Shape(authors=max(10, n // 20))
    author_of = nrng.choice(shape.authors, size=n, p=zipf_weights(shape.authors, 1.05))
    vocab = _vocabulary(rng, shape.vocabulary)
    card_words = nrng.choice(len(vocab), size=(n, shape.words_per_card), p=zipf_weights(len(vocab), 1.0))
    lib_w, task_w = zipf_weights(len(LIBRARIES), 1.3), zipf_weights(len(TASKS), 1.0)
    lang_w, lic_w = zipf_weights(len(LANGUAGES), 1.5), zipf_weights(len(LICENSES), 1.3)
    libs = nrng.choice(len(LIBRARIES), size=n, p=lib_w)
    tasks = nrng.choice(len(TASKS), size=n, p=task_w)
    langs = nrng.choice(len(LANGUAGES), size=n, p=lang_w)
    lics = nrng.choice(len(LICENSES), size=n, p=lic_w)
    downloads = (nrng.pareto(1.2, size=n) * 20).astype(np.int64)
    epoch = datetime(2023, 1, 1)
    for i in range(n):
        repo_type = "dataset" if i % 5 == 4 else "model"
        author = f"user{int(author_of[i])}"
        parts = [rng.choice(FAMILIES)]
        if rng.random() < 0.3:
            parts.insert(0, rng.choice(FAMILIES).capitalize())
        if rng.random() < 0.7:
            parts.append(rng.choice(SIZES))
        parts += rng.sample(SUFFIXES, rng.choice((0, 1, 1, 2)))
        name = "-".join(parts) + f"-{i}"
        tags = [LIBRARIES[libs[i]], TASKS[tasks[i]], f"license:{LICENSES[lics[i]]}"]
        lang = LANGUAGES[langs[i]]
        tags.append(f"language:{lang}" if repo_type == "dataset" else lang)
        if rng.random() < 0.3:
            tags.append(rng.choice(OTHER_TAGS))
        if rng.random() < 0.1:
            tags.append(f"dataset:user{rng.randrange(shape.authors)}/{rng.choice(FAMILIES)}-corpus")
        tags = list(dict.fromkeys(tags))
        created = epoch + timedelta(seconds=rng.randrange(3 * 365 * 86400))
        d = int(downloads[i])
        readme = f"# {name}\n\n" + " ".join(vocab[w] for w in card_words[i])
        yield {
            "id": first_id + i,
            "type": repo_type,
            "owner_id": first_account + int(author_of[i]),
            "namespace": author,
            "name": name,
            "full_id": f"{author}/{name}",
            "storage_key": f"{seed:08x}{first_id + i:024x}",
            "private": rng.random() < shape.private_share,
            "gated": None,
            "disabled": False,
            "created_at": created,
            "last_modified": created + timedelta(seconds=rng.randrange(86400 * 200)),
            "head_sha": f"{i:040x}",
            "downloads": d,
            "downloads_all_time": d * rng.randint(1, 5),
            "likes": int(d**0.5 * rng.random()),
            "trending_score": float(d * rng.random() * 0.1),
            "card_data": None,
            "card_error": None,
            "tags": tags,
            "tag_sig": signature(tags),
            "library_name": LIBRARIES[libs[i]] if repo_type == "model" else None,
            "pipeline_tag": TASKS[tasks[i]] if repo_type == "model" else None,
            "sdk": None,
            "used_storage": 0,
            "_readme": readme,
        }


REPO_COLUMNS = [
    "id",
    "type",
    "owner_id",
    "namespace",
    "name",
    "full_id",
    "storage_key",
    "private",
    "gated",
    "disabled",
    "created_at",
    "last_modified",
    "head_sha",
    "downloads",
    "downloads_all_time",
    "likes",
    "trending_score",
    "card_data",
    "card_error",
    "tags",
    "tag_sig",
    "library_name",
    "pipeline_tag",
    "sdk",
    "used_storage",
]


def load(url: str, n: int, seed: int = 7, batch: int = 20_000, log: bool = True) -> dict[str, float]:
    """Insert `n` repositories (and their authors, tags and search documents) into the migrated database
    at `url`. Returns timings in seconds."""
    import orjson

    db = Database(url)
    pg = db.engine.dialect.name == "postgresql"
    t0 = time.perf_counter()
    # Secondary indexes are built once at the end (several times faster than maintaining them row by row).
    # Dropped before the loading connection opens, whose transaction would otherwise block the DROP.
    indexes = [i for t in (Repo.__table__, RepoTag.__table__) for i in t.indexes if not i.unique]
    with db.engine.begin() as conn:
        for index in indexes:
            index.drop(conn, checkfirst=True)
        if pg:  # the search package's GIN index (haven/search/postgres.py), likewise rebuilt at the end, and its
            # rank table, written at the end in rank order instead of row by row by its trigger
            conn.exec_driver_sql("DROP INDEX IF EXISTS ix_repo_search_document")
            conn.exec_driver_sql("ALTER TABLE repo_search DISABLE TRIGGER repo_rank_document")
    raw = db.engine.raw_connection()
    cur = raw.cursor()
    cur.execute("SELECT coalesce(max(id), 0) FROM accounts")
    first_account = cur.fetchone()[0] + 1
    cur.execute("SELECT coalesce(max(id), 0) FROM repos")
    first_id = cur.fetchone()[0] + 1
    authors = max(10, n // 20)
    now = datetime(2026, 1, 1)
    account_rows = [(first_account + a, f"user{a}", "user", False, now) for a in range(authors)]
    if not pg:
        cur.execute("PRAGMA synchronous=OFF")
        cur.execute("BEGIN")
    _write(cur, pg, "accounts", ("id", "name", "kind", "is_admin", "created_at"), account_rows)
    timings = {"accounts": time.perf_counter() - t0}
    done = 0
    buf: list[dict] = []
    for row in rows(n, seed, first_id, first_account):
        buf.append(row)
        if len(buf) >= batch:
            _flush(cur, pg, buf, orjson.dumps)
            done += len(buf)
            buf = []
            if log:
                print(f"  {done:,} rows, {time.perf_counter() - t0:.0f} s", flush=True)
    if buf:
        _flush(cur, pg, buf, orjson.dumps)
    if pg:
        cur.execute("SELECT setval(pg_get_serial_sequence('repos', 'id'), (SELECT max(id) FROM repos))")
        cur.execute("SELECT setval(pg_get_serial_sequence('accounts', 'id'), (SELECT max(id) FROM accounts))")
    raw.commit()
    timings["rows"] = time.perf_counter() - t0
    with db.engine.begin() as conn:
        for index in indexes:
            index.create(conn, checkfirst=True)
        if pg:
            conn.exec_driver_sql("CREATE INDEX ix_repo_search_document ON repo_search USING GIN (document)")
            conn.exec_driver_sql(fill_rank(first_id))
            conn.exec_driver_sql("ALTER TABLE repo_search ENABLE TRIGGER repo_rank_document")
    timings["indexes"] = time.perf_counter() - t0
    if pg:  # VACUUM too: the visibility map lets index-only scans (a tag's ids, an index's sort order) skip the heap
        raw.commit()
        raw.driver_connection.autocommit = True  # type: ignore[union-attr]
        cur.execute("VACUUM ANALYZE")
    else:
        cur.execute("ANALYZE")
    raw.commit()
    timings["total"] = time.perf_counter() - t0
    raw.close()
    db.dispose()
    return timings


def _flush(cur: object, pg: bool, buf: list[dict], dumps: object) -> None:
    repos = []
    for r in buf:
        values = [r[c] for c in REPO_COLUMNS]
        values[REPO_COLUMNS.index("tags")] = dumps(r["tags"]).decode()  # type: ignore[operator]
        repos.append(tuple(values))
    _write(cur, pg, "repos", REPO_COLUMNS, repos)
    _write(cur, pg, "repo_tags", ("repo_id", "tag"), [(r["id"], t) for r in buf for t in r["tags"]])
    # SQLite's documents are keyed by rank (haven.search.rank), PostgreSQL's by repository id.
    key = (lambda r: r["id"]) if pg else (lambda r: rank_key(r["type"], r["downloads"], r["id"]))
    docs = [(key(r), " ".join(name_tokens(r["full_id"])), " ".join(body_terms(r["_readme"], r["tags"]))) for r in buf]
    _write(cur, pg, "repo_search", ("repo_id" if pg else "rowid", "name", "body"), docs)


def _write(cur, pg: bool, table: str, columns: tuple[str, ...] | list[str], values: list[tuple]) -> None:  # type: ignore[no-untyped-def]
    if pg:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for v in values:
                copy.write_row(v)
    else:
        marks = ", ".join("?" for _ in columns)
        cur.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)


if __name__ == "__main__":
    import sys

    print(load(sys.argv[1], int(sys.argv[2])))
