"""Shared by the client scripts: print one JSON result line the test parses."""

from __future__ import annotations

import json
from typing import Any


def emit(value: Any) -> None:
    print("RESULT:" + json.dumps(value), flush=True)
