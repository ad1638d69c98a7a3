"""The web suite's clients and browser (Community pages) and the git suite's git (pushes to refs/pr/N)."""

from tests.git.conftest import git  # noqa: F401
from tests.web.conftest import (  # noqa: F401 (fixtures and the screenshot hook, by name)
    _clean_artifacts,
    anon,
    browser,
    new_page,
    pytest_runtest_makereport,
    web,
)
