"""Dataset.push_to_hub (public, then again with fewer shards; and private), read back with load_dataset."""
# requires: datasets

import os

os.environ.setdefault("USE_TORCH", "0")

from _common import UID, WORK, check, hub_api, raises, run, step

TRAIN = [{"id": i, "text": f"row {i}", "score": i * 0.25} for i in range(20)]
TEST = [{"id": 100 + i, "text": f"test {i}", "score": -1.0 * i} for i in range(4)]


def rows(repo_id: str, **kw) -> dict:
    from datasets import load_dataset

    return {split: [dict(r) for r in ds] for split, ds in load_dataset(repo_id, **kw).items()}


def main() -> None:
    from datasets import Dataset, DatasetDict

    repo_id = f"alice/compat-pushed-{UID}"
    step("push_to_hub with three train shards")
    dd = DatasetDict({"train": Dataset.from_list(TRAIN), "test": Dataset.from_list(TEST)})
    dd.push_to_hub(repo_id, num_shards={"train": 3})
    files = hub_api().list_repo_files(repo_id, repo_type="dataset")
    check(sum(f.startswith("data/train-") for f in files) == 3, f"files {files}")
    step("load_dataset after the first push")
    check(rows(repo_id) == {"train": TRAIN, "test": TEST}, "rows differ after the first push")
    step("push_to_hub again with one shard")
    small = DatasetDict({"train": Dataset.from_list(TRAIN[:5]), "test": Dataset.from_list(TEST[:1])})
    small.push_to_hub(repo_id)
    files = hub_api().list_repo_files(repo_id, repo_type="dataset")
    check(sum(f.startswith("data/train-") for f in files) == 1, f"old shards left: {files}")
    check(rows(repo_id) == {"train": TRAIN[:5], "test": TEST[:1]}, "rows differ after the second push")
    step("private push_to_hub")
    private_id = f"alice/compat-pushed-private-{UID}"
    Dataset.from_list(TEST).push_to_hub(private_id, private=True)
    check(hub_api().dataset_info(private_id).private, "the pushed dataset is not private")
    # Anonymous first, with a cache of its own: datasets falls back to a cached copy when the hub refuses.
    raises(("FileNotFoundError",), rows, private_id, token=False, cache_dir=str(WORK / "anon"))
    check(rows(private_id) == {"train": TEST}, "private rows differ")


if __name__ == "__main__":
    run(main)
