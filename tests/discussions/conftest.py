"""The web suite's clients and browser, reused for the Community pages."""

from tests.web.conftest import (  # noqa: F401 (fixtures and the screenshot hook, by name)
    _clean_artifacts,
    anon,
    browser,
    new_page,
    pytest_runtest_makereport,
    web,
)
