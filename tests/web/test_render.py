"""The card sanitiser and the error pages, in-process."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from haven.web.render import TAGS, card_html, human_count, human_size, sanitize

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    "<svg onload=alert(1)><circle r=1></circle></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<svg><script>alert(1)</script></svg>",
    '<svg><animate onbegin="alert(1)" attributeName="x"/></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<details open ontoggle="alert(1)">x</details>',
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<style>body{display:none}</style>",
    '<img src="x" srcset="javascript:alert(1)">',
    "[click](javascript:alert(1))",
    "![img](javascript:alert(1))",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '<p class="navbar" id="main">hijack</p>',
]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


SAFE_URL = re.compile(r"^(https?://|mailto:|[^:]*$)", re.I)


@pytest.mark.parametrize("attack", ATTACKS)
def test_attacks_are_inert(attack: str) -> None:
    out = str(card_html(f"# Card\n\n{attack}\n"))
    parser = _Tags()
    parser.feed(out)
    for tag, attrs in parser.tags:
        assert tag in TAGS, (attack, out)
        for name, value in attrs:
            assert not name.startswith("on") and name not in ("style", "srcset", "id", "xlink:href"), (attack, out)
            if name in ("href", "src"):
                assert value is not None and SAFE_URL.match(value.strip()), (attack, out)
            if name == "class":
                assert tag in ("span", "pre"), (attack, out)
    assert "<script" not in out.lower() and "<svg" not in out.lower()


def test_what_cards_need_survives() -> None:
    html = str(
        card_html(
            "---\nlicense: mit\n---\n# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
            '```python\nx = 1\n```\n\n<img src="https://example.org/a.png" alt="A" width="10">\n\n'
            '[link](https://example.org) [rel](config.json) <a href="mailto:a@b.c">mail</a>\n\n~~old~~\n'
            "<details><summary>More</summary>hidden</details>\n"
        )
    )
    assert "license: mit" not in html  # the front matter is metadata, not text
    assert "<h1>Title</h1>" in html and "<td>1</td>" in html
    assert '<pre class="highlight"><code><span class="n">x</span>' in html
    assert '<img src="https://example.org/a.png" alt="A" width="10">' in html
    assert 'href="https://example.org"' in html and 'href="config.json"' in html and 'href="mailto:a@b.c"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert "<s>old</s>" in html and "<details><summary>More</summary>" in html


def test_unknown_fence_languages_are_escaped_not_highlighted() -> None:
    html = str(card_html("```nosuchlang\n<script>alert(1)</script>\n```\n"))
    assert "&lt;script&gt;" in html and "<script" not in html


def test_sanitize_keeps_only_pygments_classes() -> None:
    assert (
        sanitize('<span class="k">x</span><span class="btn">y</span>')
        == '<span class="k">x</span><span class="">y</span>'
    )


def test_human_units() -> None:
    assert human_size(999) == "999 Bytes" and human_size(1_500_000) == "1.5 MB"
    assert human_count(1_200_000) == "1.2M" and human_count(1000) == "1k" and human_count(12) == "12"


def test_server_errors_are_pages_with_the_request_id(tmp_path: Path) -> None:
    from haven.app import create_app
    from haven.config import Settings
    from haven.web.core import web_router

    app = create_app(Settings(data_dir=tmp_path, blob_port=0))
    boom = web_router()

    @boom.get("/boom/{x}/{y}/{z}")
    def crash() -> None:
        raise RuntimeError("kaboom")

    app.include_router(boom)
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/boom/1/2/3", headers={"accept": "text/html"})
    assert r.status_code == 500
    rid = r.headers["x-request-id"]
    assert f"<code>{rid}</code>" in r.text and "kaboom" not in r.text
    r = client.get("/nowhere/a/b/c/d", headers={"accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    r = client.get("/api/nowhere")  # the API keeps its JSON errors
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")


def test_last_commits_of_a_directory_match_the_walk_per_path(tmp_path: Path) -> None:
    import random

    from haven.git.diff import last_commits
    from haven.git.store import GitRepo, Put

    git = GitRepo.init(tmp_path / "r.git")
    rng = random.Random(1)
    files = [f"dir/f{i}" for i in range(8)] + [f"top{i}" for i in range(5)]
    head = None
    for n in range(40):
        changes = [Put(f, git.write_blob(f"{f}{n}".encode())) for f in rng.sample(files, 3)]
        head = git.write_commit(git.build_tree(head, changes), [head] if head else [], f"c{n}", ("a", "a@b"))
    assert head is not None
    for directory in ("", "dir"):
        entries = list(git.list_tree(head, directory))
        got = last_commits(git, head, directory, [e.path.rsplit("/", 1)[-1] for e in entries])
        for e in entries:
            expected = git.last_commit_for(head, e.path)
            assert expected is not None and got[e.path.rsplit("/", 1)[-1]].id == expected.id
