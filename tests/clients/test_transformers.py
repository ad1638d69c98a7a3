"""transformers against Haven: push_to_hub a tiny BERT classifier, then pipeline/AutoModel give the local outputs."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.clients._run import run_script
from tests.conftest import Hub


@dataclass
class Pushed:
    public: str  # card has pipeline_tag; a copy under variant/one on branch exp
    private: str
    sharded: str  # model.safetensors.index.json + shards
    local: Path  # the same model, saved locally before pushing
    commits: dict[str, str]  # repo -> commit of the last push_to_hub


@pytest.fixture(scope="module")
def pushed(sqlite_hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> Pushed:
    """One tiny model pushed by alice with transformers' own push_to_hub, to three repos."""
    root = tmp_path_factory.mktemp("tiny-bert")
    suffix = uuid.uuid4().hex[:8]
    public, private, sharded = (f"alice/tiny-bert{kind}-{suffix}" for kind in ("", "-private", "-sharded"))
    local = root / "local"
    commits = run_script(sqlite_hub, "tiny_bert_push.py", str(local), public, private, sharded, home=root / "hf-home")
    # The card transformers writes names the library; pipeline() without a task also needs the card's pipeline_tag.
    api = sqlite_hub.api("alice")
    card = Path(api.hf_hub_download(public, "README.md", cache_dir=root / "dl")).read_text()
    assert card.startswith("---\n")
    card = card.replace("---\n", "---\npipeline_tag: text-classification\n", 1)
    api.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=public)
    # A second copy in a subfolder on another branch.
    api.create_branch(public, branch="exp")
    api.upload_folder(repo_id=public, folder_path=local, path_in_repo="variant/one", revision="exp")
    return Pushed(public, private, sharded, local, commits)


def assert_close(a: object, b: object, tol: float = 1e-5) -> None:
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_close(x, y, tol)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for key in a:
            assert_close(a[key], b[key], tol)
    elif isinstance(a, float):
        assert isinstance(b, float) and math.isclose(a, b, abs_tol=tol), (a, b)
    else:
        assert a == b


def test_push_to_hub_stores_the_model_files(sqlite_hub: Hub, pushed: Pushed) -> None:
    api = sqlite_hub.api("alice")
    files = set(api.list_repo_files(pushed.public))
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"} <= files
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        path = api.hf_hub_download(pushed.public, name, cache_dir=pushed.local.parent / "dl")
        assert Path(path).read_bytes() == (pushed.local / name).read_bytes()
    sharded = api.list_repo_files(pushed.sharded)
    assert "model.safetensors.index.json" in sharded
    assert sum(f.startswith("model-0") and f.endswith(".safetensors") for f in sharded) > 1


def test_push_to_hub_commits_are_the_branch_head(sqlite_hub: Hub, pushed: Pushed) -> None:
    api = sqlite_hub.api("alice")
    assert api.model_info(pushed.private).sha == pushed.commits[pushed.private]
    titles = [c.title for c in api.list_repo_commits(pushed.private)]
    assert titles[:2] == ["tokenizer", "tiny bert"]


def test_pipeline_and_automodel_match_local_copy(sqlite_hub: Hub, pushed: Pushed, tmp_path: Path) -> None:
    result = run_script(
        sqlite_hub,
        "tiny_bert_load.py",
        str(pushed.local),
        pushed.public,
        pushed.sharded,
        "variant/one@exp",
        user=None,
        home=tmp_path / "hf-home",
    )
    hub, local = result["hub"], result["local"]
    assert hub["class"] == "BertModel"
    assert hub["ids"] == local["ids"]
    assert_close(hub["hidden"], local["hidden"])
    assert_close(hub["pipeline"], local["pipeline"])
    assert {entry["label"] for entry in hub["pipeline"][0]} == {"negative", "neutral", "positive"}
    # pipeline(model=...) without a task: the task comes from the hub's model info.
    assert result["inferred"]["task"] == "text-classification"
    assert_close(result["inferred"]["pipeline"], local["pipeline"])
    for other in ("sharded", "subfolder"):
        assert result[other]["ids"] == local["ids"]
        assert_close(result[other]["hidden"], local["hidden"])


def test_private_model_needs_the_owners_token(sqlite_hub: Hub, pushed: Pushed, tmp_path: Path) -> None:
    assert sqlite_hub.api("alice").model_info(pushed.private).private
    result = run_script(
        sqlite_hub, "tiny_bert_access.py", pushed.private, sqlite_hub.tokens["bob"], home=tmp_path / "hf-home"
    )
    for who in ("anonymous", "other"):  # a private repo looks like a missing one (RepositoryNotFound)
        assert result[who].startswith("error: OSError"), result[who]
        assert "is not a valid model identifier" in result[who], result[who]
    assert result["owner"] == "bert"
    assert result["pipeline"][0]["label"] in {"negative", "neutral", "positive"}
