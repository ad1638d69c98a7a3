"""The web suite's httpx clients (Community pages) and the git suite's git (pushes to refs/pr/N).

The browser fixtures stay in tests/web: Playwright's sync API runs once per process."""

from tests.git.conftest import git  # noqa: F401 (fixture, by name)
from tests.web.conftest import anon, web  # noqa: F401 (fixtures, by name)
