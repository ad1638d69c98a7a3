"""The Inference API: the Hub's classic `POST /models/{repo}` and the OpenAI-compatible `/v1/chat/completions`
and `/v1/embeddings`, answered by worker processes (haven/inference/).

Serves huggingface_hub's InferenceClient (model=<haven>/models/<repo>, or base_url=<haven>/v1 for chat).
Access is the download rule (private models 404 for those who cannot read them; gated ones need a grant).
"""

from __future__ import annotations

import asyncio
import importlib.util
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.responses import Response, StreamingResponse

from haven.api.common import check_gate, lookup, resolve_rev, truthy
from haven.api.deps import cached_actor, credential, get_actor
from haven.api.files import lookup_cache
from haven.api.responses import JSON
from haven.auth.permissions import Actor, Permission, can
from haven.auth.service import hash_token
from haven.git.store import open_repo
from haven.hub import Hub
from haven.inference import tasks
from haven.inference.pool import ModelSpec, Pool
from haven.inference.pool import Request as Pending
from haven.inference.snapshot import Snapshot, materialise, remembered
from haven.inference.tasks import InferenceError, Job
from haven.repos.service import RepoRef

router = APIRouter()
# The classic routes, also matched by haven.api.inference_lane (which serves them without FastAPI's router).
CLASSIC = "/models/{namespace}/{name}"
AT_REVISION = "/models/{namespace}/{name}/revision/{revision}"
WITH_TASK = "/models/{namespace}/{name}/pipeline/{task}"
PIPELINE = "/pipeline/{task}/{namespace}/{name}"
PREFIXES = ("/models/", "/pipeline/")
_extra: list[str | None] = []


def missing_extra() -> str | None:
    """Why inference cannot run here (the optional extra is not installed), or None. Checked without importing."""
    if not _extra:
        gone = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
        _extra.append(f"{', '.join(gone)} not installed" if gone else None)
    return _extra[0]


@dataclass(frozen=True)
class _Access:
    """A served model as the permission rules see it."""

    id: int
    owner_id: int
    private: bool


def _state(request: Request) -> Any:
    return request.app.state


def _pool(request: Request) -> Pool:
    """The worker pool, started by the first inference request (servers that never infer pay nothing)."""
    state = _state(request)
    pool = getattr(state, "inference_pool", None)
    if pool is None:
        pool = state.inference_pool = Pool(state.hub.settings, asyncio.get_running_loop())
    return pool


def shutdown(app: FastAPI) -> None:
    """Stop the worker processes (called when the server stops)."""
    pool = getattr(app.state, "inference_pool", None)
    if pool is not None:
        pool.shutdown()


def _admit(request: Request) -> None:
    """Refuse early when the inference extra is missing (501); the rate limit is RateLimitMiddleware's."""
    reason = missing_extra()
    if reason is not None:
        raise InferenceError(
            501, f"The Inference API is not available on this server ({reason}): install haven[inference]"
        )


async def _body(request: Request) -> bytes:
    """The request body, read up to its declared length and no further: granian marks a first chunk "more to
    come" even when it is the whole body, and asking for the empty rest is one more round trip through the
    server's threads (a wake-up each, milliseconds on a busy machine) for nothing."""
    limit = _state(request).hub.settings.inference_max_input_bytes
    declared = request.headers.get("content-length")
    expected = int(declared) if declared and declared.isdigit() else None
    if expected is not None and expected > limit:
        raise InferenceError(413, f"Request body larger than {limit} bytes")
    chunks, size = [], 0
    while expected is None or size < expected:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise InferenceError(413, f"Request body larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _json(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise InferenceError(400, "The body is not valid JSON", error_type="validation") from None


def _split(repo: str) -> tuple[str, str]:
    namespace, _, name = repo.partition("/")
    if not namespace or not name or "/" in name:
        raise InferenceError(400, f"Invalid model id {repo!r}: expected namespace/name")
    return namespace, name


async def _resolve(request: Request, repo: str, revision: str, requested: str | None) -> ModelSpec:
    """The model to run, as a download would find it. A caller and model seen before (the /resolve lookup
    cache, valid until the database next changes) with its snapshot built are answered on the event loop;
    anything else takes a threadpool round trip."""
    hub: Hub = _state(request).hub
    _split(repo)
    token = credential(request.headers.get("authorization"))
    actor = cached_actor(hub, token)
    key = ("model", repo, None if token is None else hash_token(token))
    cache = lookup_cache(request)
    hit = cache.get(key) if actor is not None else None
    # A gated model's gate asks the database for callers without a role: that answer is the threadpool's.
    if hit is not None and actor is not None and (not hit[0].gated or actor.has_role_on(hit[0])):
        ref = RepoRef(hit[0], open_repo(hit[1]), hit[1])
        commit = resolve_rev(ref, revision)
        check_gate(hub, ref, actor)
        snap = remembered(hub, ref, commit)
        if snap is not None:
            return _pick(hub, ref, snap, repo, requested)
    return await run_in_threadpool(_spec, request, repo, revision, requested, cache, key)


def _spec(request: Request, repo: str, revision: str, requested: str | None, cache: Any, key: Any) -> ModelSpec:
    """Look the model up, build its snapshot, and pick the task. Runs in a thread."""
    hub: Hub = _state(request).hub
    actor = get_actor(request)
    version = cache.version()
    ref = lookup(hub, actor, "model", *_split(repo), Permission.READ)
    cache.put(key, version, ref)
    commit = resolve_rev(ref, revision)
    check_gate(hub, ref, actor)
    return _pick(hub, ref, materialise(hub, ref, commit), repo, requested)


def _pick(hub: Hub, ref: RepoRef, snap: Snapshot, repo: str, requested: str | None) -> ModelSpec:
    """The task to run and everything a worker needs to load the model for it."""
    default = tasks.default_task(ref.row.pipeline_tag, snap.config, snap.sentence_transformers)
    if requested in ("conversational", "embeddings"):
        family = {"conversational": "text-generation", "embeddings": "feature-extraction"}[requested]
        if default not in (family, *tasks.COMPATIBLE.get(family, ())):
            raise InferenceError(400, f"Model {repo} runs {default!r}: it cannot answer {requested} requests")
        task = requested
    else:
        task = tasks.choose_task(default, requested, repo)
    return ModelSpec(
        repo=ref.full_id,
        snapshot_key=snap.key,
        path=str(snap.path),
        task=task,
        sentence_transformers=snap.sentence_transformers,
        allow_pickle=hub.settings.inference_allow_pickle,
        weight_bytes=snap.weight_bytes,
        owner_id=ref.row.owner_id,
        repo_id=ref.row.id,
        private=ref.row.private,
    )


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
        await asyncio.sleep(0.05)


WATCH_AFTER = 0.1  # seconds an answer may take before the client's connection is watched for a hang-up


async def _outcome(request: Request, pool: Pool, req: Pending) -> tuple[int, Any]:
    """The worker's answer; 504 after the timeout; 499 (nobody to answer) when the client went away.

    The answer's future is awaited directly: asyncio.wait's waiter future and callbacks would put one more
    turn of the event loop between the worker's answer and the response. Only a timer runs beside it. Watching
    the connection costs round trips through the server (a receive call, its cancellation), so answers that
    come within WATCH_AFTER, most of them, are not watched: a client gone that soon is noticed when the
    answer cannot be sent, and the worker's part was done anyway. A late answer's watch settles the future
    itself (499 or 504), and the pool then drops whatever the worker sends for it."""
    timeout = pool.settings.inference_timeout
    loop = asyncio.get_running_loop()
    watch: list[asyncio.Task[None]] = []

    def late() -> None:
        if timeout <= WATCH_AFTER:
            _settle(req, 504, f"Inference did not finish within {timeout:g} s")
        else:
            watch.append(loop.create_task(_watch(request, req, timeout)))

    timer = loop.call_later(min(WATCH_AFTER, timeout), late)
    try:
        return await req.future
    finally:
        timer.cancel()
        for task in watch:
            task.cancel()


async def _watch(request: Request, req: Pending, timeout: float) -> None:
    """From WATCH_AFTER on: 499 if the client hangs up, 504 once `timeout` has passed, unless answered first."""
    try:
        await asyncio.wait_for(_disconnected(request), timeout - WATCH_AFTER)
    except TimeoutError:
        _settle(req, 504, f"Inference did not finish within {timeout:g} s")
    else:
        _settle(req, 499, "Client disconnected")


def _settle(req: Pending, status: int, message: str) -> None:
    if not req.future.done():
        req.future.set_result((status, message))


async def _run(request: Request, spec: ModelSpec, job: Job, wait: bool) -> tuple[Pool, Pending]:
    pool = _pool(request)
    return pool, pool.submit(spec, job, wait)


def _wait_for_model(request: Request, body: Any) -> bool:
    options = body.get("options") if isinstance(body, dict) else None
    if isinstance(options, dict) and options.get("wait_for_model"):
        return True
    return truthy(request.headers.get("x-wait-for-model"))


async def _classic(request: Request, repo: str, revision: str, task: str | None) -> Response:
    _admit(request)
    data = await _body(request)
    content_type = request.headers.get("content-type", "")
    if "json" in content_type or (data[:1] in (b"{", b"[") and not content_type.startswith("image/")):
        body = _json(data)
    else:
        body = {"inputs": data}  # raw bytes: an image
    revision = request.query_params.get("revision") or revision
    spec = await _resolve(request, repo, revision, task)
    settings = _state(request).hub.settings
    if spec.task in ("feature-extraction", "sentence-similarity") and isinstance(body, dict):
        # one model, one family: the inputs say which (the client posts both to the same URL)
        spec.task = "sentence-similarity" if isinstance(body.get("inputs"), dict) else "feature-extraction"
    job = tasks.build_job(spec.task, body, settings.inference_max_new_tokens)
    pool, req = await _run(request, spec, job, _wait_for_model(request, body))
    if job.stream:
        return await _stream(request, pool, req, _tgi_events(spec, req))
    _, result = await _finish(request, pool, req)
    return JSON(_shape(spec, job, result))


async def _finish(request: Request, pool: Pool, req: Pending) -> tuple[int, Any]:
    status, result = 500, None
    try:
        status, result = await _outcome(request, pool, req)
    finally:
        pool.finish(req, status)
    if status != 200:
        raise InferenceError(status, str(result))
    return status, result


async def run_widget(request: Request, actor: Actor, repo: str, text: str) -> Any:
    """One inference for the model page's widget: text in, the Hub's answer shape out, as `actor` (a browser
    session rather than a token), on the model's main branch. Same access, limits and workers as the API."""
    reason = missing_extra()
    if reason is not None:
        raise InferenceError(501, f"The Inference API is not available on this server ({reason})")
    hub: Hub = _state(request).hub
    settings = hub.settings
    if len(text.encode()) > settings.inference_max_input_bytes:
        raise InferenceError(413, f"Input larger than {settings.inference_max_input_bytes} bytes")

    def pick() -> ModelSpec:
        ref = lookup(hub, actor, "model", *_split(repo), Permission.READ)
        check_gate(hub, ref, actor)
        return _pick(hub, ref, materialise(hub, ref, resolve_rev(ref, "main")), repo, None)

    spec = await run_in_threadpool(pick)
    if spec.task == "sentence-similarity":
        spec.task = "feature-extraction"  # one text in: its embedding
    if spec.task == "image-classification":
        raise InferenceError(400, "The widget sends text; this model classifies images")
    job = tasks.build_job(spec.task, {"inputs": text}, settings.inference_max_new_tokens)
    pool, req = await _run(request, spec, job, True)
    _, result = await _finish(request, pool, req)
    return {"task": spec.task, "output": _shape(spec, job, result)}


def _shape(spec: ModelSpec, job: Job, result: Any) -> Any:
    """The Hub's response shapes, where the worker's result is not already one."""
    if job.task == "text-generation":
        text = (result["prompt"] + result["text"]) if job.params.get("return_full_text") else result["text"]
        out: dict[str, Any] = {"generated_text": text}
        if job.params.get("details"):
            reason = {"stop": "eos_token", "length": "length"}[result["finish_reason"]]
            out["details"] = {
                "finish_reason": reason,
                "generated_tokens": result["completion_tokens"],
                "seed": job.params.get("seed"),
            }
        return [out]
    if job.task == "text-classification" and not isinstance(job.inputs, list):
        return [result]
    if job.task in tasks.TEXT2TEXT and not isinstance(job.inputs, list):
        return [result]
    return result


async def _stream(request: Request, pool: Pool, req: Pending, events: AsyncIterator[bytes]) -> Response:
    """Server-sent events; a failure before the first token is still an ordinary error response."""
    timeout = pool.settings.inference_timeout
    try:
        await asyncio.wait_for(req.progress.wait(), timeout)
    except TimeoutError:
        pool.finish(req, 504)
        raise InferenceError(504, f"Inference did not start within {timeout:g} s") from None
    except BaseException:
        pool.finish(req, 499)
        raise
    if req.future.done() and req.future.result()[0] != 200 and req.tokens is not None and req.tokens.qsize() <= 1:
        status, message = req.future.result()
        pool.finish(req, status)
        raise InferenceError(status, str(message))

    async def body() -> AsyncIterator[bytes]:
        status = 500
        try:
            async for event in events:
                yield event
            status = 200
        finally:
            pool.finish(req, status if status == 200 else 499)

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _sse(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def _tokens(req: Pending) -> AsyncIterator[tuple[str, int]]:
    assert req.tokens is not None
    while (item := await req.tokens.get()) is not None:
        yield item


async def _tgi_events(spec: ModelSpec, req: Pending) -> AsyncIterator[bytes]:
    """text_generation(stream=True): one event per piece of text, the last with the whole text."""
    index = 0
    async for text, token in _tokens(req):
        index += 1
        yield _sse(
            {
                "index": index,
                "token": {"id": token, "text": text, "logprob": 0.0, "special": False},
                "generated_text": None,
                "details": None,
            }
        )
    status, result = await req.future
    if status != 200:
        yield _sse({"error": str(result), "error_type": "generation"})
        return
    reason = {"stop": "eos_token", "length": "length"}[result["finish_reason"]]
    yield _sse(
        {
            "index": index + 1,
            "token": {"id": 0, "text": "", "logprob": 0.0, "special": True},
            "generated_text": result["text"],
            "details": {"finish_reason": reason, "generated_tokens": result["completion_tokens"], "seed": None},
        }
    )


def _chat_events(spec: ModelSpec, job: Job, req: Pending) -> AsyncIterator[bytes]:
    cid = f"chatcmpl-{secrets.token_hex(12)}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": spec.repo,
            "system_fingerprint": "haven",
            "choices": [choice],
        }

    async def events() -> AsyncIterator[bytes]:
        yield _sse(chunk({"role": "assistant", "content": ""}, None))
        async for text, _ in _tokens(req):
            yield _sse(chunk({"content": text}, None))
        status, result = await req.future
        if status != 200:
            yield _sse({"error": str(result), "error_type": "generation"})
            return
        yield _sse(chunk({}, result["finish_reason"]))
        if job.params.get("include_usage"):
            usage = _usage(result)
            yield _sse({**chunk({}, None), "choices": [], "usage": usage})
        yield b"data: [DONE]\n\n"

    return events()


def _usage(result: dict[str, Any]) -> dict[str, int]:
    p, c = result["prompt_tokens"], result["completion_tokens"]
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


async def _chat(request: Request, repo: str | None) -> Response:
    _admit(request)
    body = _json(await _body(request))
    if not isinstance(body, dict):
        raise InferenceError(400, "The body must be a JSON object", error_type="validation")
    if repo is None:
        repo = body.get("model")
        if not isinstance(repo, str) or not repo:
            raise InferenceError(
                400, 'The body must name the model: "model": "namespace/name"', error_type="validation"
            )
    settings = _state(request).hub.settings
    job = tasks.chat_job(body, settings.inference_max_new_tokens)
    revision = request.query_params.get("revision") or "main"
    spec = await _resolve(request, repo, revision, "conversational")
    pool, req = await _run(request, spec, job, True)
    if job.stream:
        return await _stream(request, pool, req, _chat_events(spec, job, req))
    _, result = await _finish(request, pool, req)
    return JSON(
        {
            "id": f"chatcmpl-{secrets.token_hex(12)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": spec.repo,
            "system_fingerprint": "haven",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result["text"]},
                    "finish_reason": result["finish_reason"],
                    "logprobs": None,
                }
            ],
            "usage": _usage(result),
        }
    )


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    """Serves InferenceClient(base_url=<haven>/v1).chat_completion(model=<repo>) and OpenAI clients."""
    return await _chat(request, None)


@router.post("/models/{namespace}/{name}/v1/chat/completions")
async def model_chat_completions(namespace: str, name: str, request: Request) -> Response:
    """Serves InferenceClient(model=<haven>/models/<repo>).chat_completion()."""
    return await _chat(request, f"{namespace}/{name}")


@router.post("/v1/embeddings")
async def embeddings(request: Request) -> Response:
    """OpenAI-compatible embeddings of one text or a list of texts."""
    _admit(request)
    body = _json(await _body(request))
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        raise InferenceError(400, 'The body must be a JSON object naming the model: "model": "namespace/name"')
    job = tasks.embeddings_job(body)
    revision = request.query_params.get("revision") or "main"
    spec = await _resolve(request, body["model"], revision, "embeddings")
    pool, req = await _run(request, spec, job, True)
    _, result = await _finish(request, pool, req)
    vectors = result if isinstance(job.inputs, list) else [result]
    texts = job.inputs if isinstance(job.inputs, list) else [job.inputs]
    tokens = sum(len(t.split()) for t in texts)  # an estimate: the worker does not report token counts
    return JSON(
        {
            "object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "model": spec.repo,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


@router.post(CLASSIC)
async def infer(namespace: str, name: str, request: Request) -> Response:
    """Serves InferenceClient(model=<haven>/models/<repo>).<task>(...): the model's own task."""
    return await _classic(request, f"{namespace}/{name}", "main", None)


@router.post(AT_REVISION)
async def infer_at(namespace: str, name: str, revision: str, request: Request) -> Response:
    """The same at a branch, tag or commit."""
    return await _classic(request, f"{namespace}/{name}", revision, None)


@router.post(WITH_TASK)
async def infer_task(namespace: str, name: str, task: str, request: Request) -> Response:
    """A task the model can also run (feature-extraction / sentence-similarity, the text2text tasks...)."""
    return await _classic(request, f"{namespace}/{name}", "main", task)


@router.post(PIPELINE)
async def infer_pipeline(task: str, namespace: str, name: str, request: Request) -> Response:
    """The older api-inference path shape, /pipeline/{task}/{repo}."""
    return await _classic(request, f"{namespace}/{name}", "main", task)


@router.get("/api/inference/stats")
async def stats(request: Request) -> Response:
    """Request counts, latency percentiles, batching and worker state (zeros until the first request).
    Per-model numbers only for the models the caller could run."""
    pool = getattr(_state(request), "inference_pool", None)
    if pool is None:
        return JSON({"started": False, "available": missing_extra() is None, "models": {}})
    actor = await run_in_threadpool(get_actor, request)
    report = pool.report(
        lambda repo_id, owner_id, private: can(actor, Permission.READ, _Access(repo_id, owner_id, private))
    )
    return JSON({"started": True, "available": True, **report})
