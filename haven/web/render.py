"""Turning repository content into safe HTML: model cards (Markdown), highlighted code, and sizes.

Cards are untrusted: Markdown (with the HTML cards often contain) is rendered, then sanitised with nh3
to an allow-list. No scripts, event handlers, styles, forms, frames or SVG survive, and links keep
only http(s)/mailto or relative URLs. The Content-Security-Policy of every page is a second wall.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup
from pygments import highlight as pyg_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

from haven.repos.card import front_matter

MAX_HIGHLIGHT = 512 * 1024  # larger text files are shown plain

TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan"},
    "ol": {"start"},
    "div": {"align"},
    "p": {"align"},
}
# Only Pygments' token classes may appear: a card cannot borrow the page's own classes to dress itself up.
CLASSES = {"span": set(STANDARD_TYPES.values()) - {""}, "pre": {"highlight"}}
CLEAN_CONTENT = {"script", "style", "svg", "math", "template", "iframe", "object", "noscript", "textarea", "title"}
URL_SCHEMES = {"http", "https", "mailto"}


def sanitize(html: str) -> str:
    """The allow-listed subset of `html`."""
    return nh3.clean(
        html,
        tags=TAGS,
        clean_content_tags=CLEAN_CONTENT,
        attributes=ATTRIBUTES,
        allowed_classes=CLASSES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def _fence(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang) if lang else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""  # markdown-it escapes and wraps it itself
    body = pyg_highlight(code, lexer, HtmlFormatter(nowrap=True))
    return f'<pre class="highlight"><code>{body}</code></pre>'


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True, "highlight": _fence}).enable(["table", "strikethrough"])


def card_html(text: str) -> Markup:
    """A README rendered without its YAML front matter, sanitised."""
    raw = front_matter(text)
    if raw is not None:
        # Drop the `---` block: everything up to the second delimiter line.
        end = text.find("\n---", text.find(raw) + len(raw))
        text = text[text.find("\n", end + 1) + 1 :] if end >= 0 else text
    return Markup(sanitize(_markdown().render(text)))


def code_html(path: str, text: str) -> Markup | None:
    """Highlighted lines of a text file, or None when it is too large or no lexer fits."""
    if len(text) > MAX_HIGHLIGHT:
        return None
    try:
        lexer = get_lexer_for_filename(path, stripnl=False)
    except ClassNotFound:
        return None
    return Markup(pyg_highlight(text, lexer, HtmlFormatter(nowrap=True)))


def human_size(n: int | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("Bytes", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "Bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return str(n)


def human_count(n: int | None) -> str:
    if n is None:
        return "0"
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.1f}".rstrip("0").rstrip(".") + unit
    return str(n)


def pygments_css() -> str:
    return HtmlFormatter(style="default").get_style_defs(".highlight")


def markdown_html(text: str) -> Markup:
    """Markdown written by users (discussion comments), rendered and sanitised like cards."""
    return Markup(sanitize(_markdown().render(text)))
