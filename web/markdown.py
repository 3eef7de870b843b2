"""Markdown to safe HTML, done once when content is saved (never per request).

`render_document` gives what a blog post stores: the HTML, a table of contents
(from the headings, which get stable `id` anchors) and a word count.
`render_markdown` is the HTML alone, for services and courses.
"""
from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li",
    "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "*": {"class", "id"},
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height", "loading", "title"},
    "th": {"scope", "colspan", "rowspan", "align"},
    "td": {"colspan", "rowspan", "align"},
    "ol": {"start"},
}
# A code block scrolls sideways rather than wrap a command: tabindex="0" lets keyboard users scroll it too.
ALLOWED_ATTRIBUTE_VALUES = {"pre": {"tabindex": {"0"}}}
# Removed together with everything inside them (the rest lose only the tag).
DROPPED_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template", "textarea", "select"}

# Headings from h2 down get an id; h2 and h3 make the table of contents.
ANCHOR_LEVELS = range(2, 7)
TOC_LEVELS = (2, 3)
# Ids the page around the article uses; a heading never takes one of them.
RESERVED_IDS = {"main", "content", "comments", "comment-form", "comment-result", "comment-form-heading", "comments-heading", "toc", "toc-heading", "post-meta", "form-errors"}
WORDS_PER_MINUTE = 200

# The CSS class wrapping highlighted code; the theme in static/css/site.css targets it.
HIGHLIGHT_CLASS = "highlight"
_formatter = HtmlFormatter(nowrap=True)


@dataclass
class Rendered:
    html: str
    toc: list[dict] = field(default_factory=list)  # [{"level": 2, "id": "...", "text": "..."}]
    words: int = 0

    @property
    def reading_minutes(self) -> int:
        return max(1, math.ceil(self.words / WORDS_PER_MINUTE))


def slugify(text: str) -> str:
    """'OS-Level Virtualization Again !!' -> 'os-level-virtualization-again'."""
    slug = re.sub(r"[^\w]+", "-", text.lower(), flags=re.UNICODE).strip("-_")
    return slug[:80].rstrip("-") or "section"


def _heading_text(inline: Token) -> str:
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return " ".join("".join(parts).split())


def _anchor_headings(state: StateCore) -> None:
    """Give headings unique ids and collect the table of contents into env['toc']."""
    used = set(RESERVED_IDS)
    toc = state.env.setdefault("toc", [])
    tokens = state.tokens
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        if token.tag == "h1":  # the page's title is the only h1: a body h1 becomes an h2
            token.tag = tokens[index + 2].tag = "h2"
        level = int(token.tag[1])
        if level not in ANCHOR_LEVELS:
            continue
        text = _heading_text(tokens[index + 1])
        base = slugify(text)
        slug, n = base, 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        token.attrSet("id", slug)
        if level in TOC_LEVELS and text:
            toc.append({"level": level, "id": slug, "text": text})


def _figures(state: StateCore) -> None:
    """A paragraph holding one titled image becomes a <figure> with the title as caption."""
    tokens = state.tokens
    index = 0
    while index < len(tokens) - 2:
        opening, inline, closing = tokens[index : index + 3]
        index += 1
        if opening.type != "paragraph_open" or closing.type != "paragraph_close" or inline.type != "inline":
            continue
        children = [c for c in inline.children or [] if not (c.type == "text" and not c.content.strip())]
        if len(children) != 1 or children[0].type != "image" or not children[0].attrGet("title"):
            continue
        image = children[0]
        caption = str(image.attrGet("title"))
        image.attrs.pop("title", None)
        opening.type, opening.tag = "figure_open", "figure"
        opening.attrSet("class", "figure")
        closing.type, closing.tag = "figure_close", "figure"
        tokens.insert(index + 1, Token("html_block", "", 0, content=f"<figcaption>{html.escape(caption)}</figcaption>\n"))
        index += 2


def _render_figure_open(self, tokens, idx, options, env):
    return "<figure" + self.renderAttrs(tokens[idx]) + ">\n"


def _render_figure_close(self, tokens, idx, options, env):
    return "</figure>\n"


def highlight_code(code: str, language: str) -> str:
    """Pygments spans (classes only, no inline styles) for code in a known language, else escaped text."""
    try:
        lexer = get_lexer_by_name(language) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return html.escape(code)
    return highlight(code, lexer, _formatter)


def _render_fence(self, tokens, idx, options, env):
    token = tokens[idx]
    language = (token.info or "").strip().split(maxsplit=1)[0] if token.info else ""
    language = re.sub(r"[^\w+-]", "", language)[:30]
    code_class = f' class="language-{language}"' if language else ""
    return (
        f'<div class="{HIGHLIGHT_CLASS}"><pre tabindex="0"><code{code_class}>'
        f"{highlight_code(token.content, language)}</code></pre></div>\n"
    )


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
    md.enable("table").enable("strikethrough")
    md.core.ruler.push("portico_anchors", _anchor_headings)
    md.core.ruler.push("portico_figures", _figures)
    md.add_render_rule("fence", _render_fence)
    md.add_render_rule("figure_open", _render_figure_open)
    md.add_render_rule("figure_close", _render_figure_close)
    return md


_md = _parser()


def sanitise(html_text: str) -> str:
    return nh3.clean(
        html_text,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        tag_attribute_values=ALLOWED_ATTRIBUTE_VALUES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )


def plain_text(html_text: str) -> str:
    return html.unescape(nh3.clean(html_text, tags=set(), clean_content_tags=DROPPED_WITH_CONTENT))


def render_document(text: str) -> Rendered:
    """Render Markdown into sanitised HTML, a table of contents and a word count."""
    env: dict = {}
    raw = _md.render(text or "", env)
    safe = sanitise(raw)
    toc = env.get("toc", [])
    # A heading whose id the sanitiser dropped (raw HTML trickery) must not appear in the contents.
    toc = [entry for entry in toc if f'id="{entry["id"]}"' in safe]
    return Rendered(html=safe, toc=toc, words=len(plain_text(safe).split()))


def render_markdown(text: str) -> str:
    """Render Markdown and strip anything unsafe (scripts, handlers, javascript: URLs)."""
    return render_document(text).html


def pygments_css(style: str = "github-dark") -> str:
    """The highlighting theme for static/css/site.css (blog section)."""
    rules = HtmlFormatter(style=style).get_style_defs(f".{HIGHLIGHT_CLASS}").splitlines()
    return "\n".join(rule for rule in rules if rule.startswith(f".{HIGHLIGHT_CLASS}"))
