"""Keep Hypothesis' scratch files (constant cache) out of the source tree."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "haven-xet-hypothesis")
