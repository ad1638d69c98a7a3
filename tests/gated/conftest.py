"""Fixtures for gated repositories: a fresh gated model of alice's, with a card that may ask questions."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from huggingface_hub import CommitOperationAdd

from tests.conftest import Hub

CARD_WITH_FORM = """---
license: other
extra_gated_prompt: Tell us who you are before you use these weights.
extra_gated_fields:
  Company: text
  Use case:
    type: select
    options:
      - research
      - product
  I agree to the licence: checkbox
---
# Weights behind a form
"""


def unique(prefix: str = "g") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


GatedFactory = Callable[..., str]


@pytest.fixture
def make_gated(hub: Hub) -> GatedFactory:
    """make_gated(mode, card=None, private=False) -> repo id: alice's model with weights.bin, gated `mode`."""

    def make(mode: str, card: str | None = None, private: bool = False) -> str:
        alice = hub.api("alice")
        repo_id = alice.create_repo(unique(), private=private).repo_id
        ops = [CommitOperationAdd("weights.bin", b"w" * 2048), CommitOperationAdd("config.json", b"{}")]
        if card is not None:
            ops.append(CommitOperationAdd("README.md", card.encode()))
        alice.create_commit(repo_id, ops, commit_message="weights")
        alice.update_repo_settings(repo_id, gated=mode)
        return repo_id

    return make
