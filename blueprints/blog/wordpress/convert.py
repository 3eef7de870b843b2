"""WordPress post HTML -> the body a post here stores: Markdown that the editor edits and the renderer accepts.

What is stored is Markdown in the editor's own dialect (CommonMark with HTML allowed):
- headings become Markdown headings, so they get the same anchors and table of contents as a post
  written here ("the same sections as the original");
- code ([code], [sourcecode], SyntaxHighlighter's [bash]…, <pre>) becomes fenced code blocks, highlighted
  like any other;
- everything else stays HTML, one block per paragraph/list/table/figure, separated by blank lines (an HTML
  block ends at a blank line, so none is left inside one), already cleaned by web.markdown.sanitise, the
  rules every post goes through again when it is rendered.
WordPress's own rendering is reproduced first: block comments removed (Gutenberg content is not
auto-paragraphed, as in WordPress), wpautop for classic content, the common shortcodes turned into
figures, code blocks and links. Other shortcodes stay as text and are reported.
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

from web.markdown import plain_text, sanitise

# --- wpautop: WordPress's paragraph rules (wp-includes/formatting.php), ported --------------------------

ALLBLOCKS = (r"(?:table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre|form|map|area|"
             r"blockquote|address|style|p|h[1-6]|hr|fieldset|legend|section|article|aside|hgroup|header|footer|nav|"
             r"figure|figcaption|details|menu|summary)")


def wpautop(text: str, br: bool = True) -> str:
    """Blank lines become paragraphs and single newlines <br />, around block-level HTML as WordPress does."""
    if not text.strip():
        return ""
    text = text + "\n"
    pre_tags = {}
    if "<pre" in text:
        def keep_pre(match: re.Match) -> str:
            name = f'<pre wp-pre-tag-{len(pre_tags)}></pre>'
            pre_tags[name] = match.group(0)
            return name
        text = re.sub(r"<pre[\s>].*?</pre>", keep_pre, text, flags=re.S | re.I)
    text = re.sub(r"<br\s*/?>\s*<br\s*/?>", "\n\n", text)
    text = re.sub(r"(<" + ALLBLOCKS + r"[\s/>])", r"\n\n\1", text)
    text = re.sub(r"(</" + ALLBLOCKS + r">)", r"\1\n\n", text)
    text = re.sub(r"(<hr\s*?/?>)", r"\1\n\n", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Newlines inside a tag are not line breaks.
    text = re.sub(r"<[^<>]*>", lambda m: m.group(0).replace("\n", " <!-- wpnl --> "), text)
    if "<figcaption" in text:
        text = re.sub(r"\s*(<figcaption[^>]*>)", r"\1", text)
        text = re.sub(r"</figcaption>\s*", "</figcaption>", text)
    text = re.sub(r"\n\n+", "\n\n", text)
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p]
    text = "".join("<p>" + p.strip("\n") + "</p>\n" for p in paragraphs)
    text = re.sub(r"<p>\s*</p>", "", text)
    text = re.sub(r"<p>([^<]+)</(div|address|form)>", r"<p>\1</p></\2>", text)
    text = re.sub(r"<p>\s*(</?" + ALLBLOCKS + r"[^>]*>)\s*</p>", r"\1", text)
    text = re.sub(r"<p>(<li.+?)</p>", r"\1", text)
    text = re.sub(r"<p><blockquote([^>]*)>", r"<blockquote\1><p>", text, flags=re.I)
    text = text.replace("</blockquote></p>", "</p></blockquote>")
    text = re.sub(r"<p>\s*(</?" + ALLBLOCKS + r"[^>]*>)", r"\1", text)
    text = re.sub(r"(</?" + ALLBLOCKS + r"[^>]*>)\s*</p>", r"\1", text)
    if br:
        text = re.sub(r"<(script|style|svg|math).*?</\1>", lambda m: m.group(0).replace("\n", "<WPPreserveNewline />"),
                      text, flags=re.S)
        text = text.replace("<br>", "<br />").replace("<br/>", "<br />")
        text = re.sub(r"(?<!<br />)\s*\n", "<br />\n", text)
        text = text.replace("<WPPreserveNewline />", "\n")
    text = re.sub(r"(</?" + ALLBLOCKS + r"[^>]*>)\s*<br />", r"\1", text)
    text = re.sub(r"<br />(\s*</?(?:p|li|div|dl|dd|dt|th|pre|td|ul|ol)[^>]*>)", r"\1", text)
    text = re.sub(r"\n</p>$", "</p>", text)
    for name, original in pre_tags.items():
        text = text.replace(name, original)
    return text.replace(" <!-- wpnl --> ", "\n").replace("<!-- wpnl -->", "\n")


# --- shortcodes -------------------------------------------------------------------------------------------

# SyntaxHighlighter Evolved's language shortcodes ([bash]…[/bash]) besides [code] and [sourcecode].
CODE_SHORTCODES = {"code", "sourcecode", "bash", "shell", "python", "py", "php", "js", "javascript", "jscript", "sql",
                   "xml", "html", "css", "java", "ruby", "perl", "powershell", "ps", "yaml", "json", "text", "plain",
                   "go", "c", "cpp", "csharp", "diff", "ini"}
CODE_ALIASES = {"shell": "bash", "py": "python", "jscript": "javascript", "js": "javascript", "ps": "powershell",
                "plain": "text", "sourcecode": "", "code": ""}
_ATTR = re.compile(r"""([\w-]+)\s*=\s*"([^"]*)"|([\w-]+)\s*=\s*'([^']*)'|([\w-]+)\s*=\s*([^\s'"\]]+)""")
# Anything shaped like a shortcode that is left after the supported ones are done.
_LEFTOVER = re.compile(r"\[([a-zA-Z][\w-]*)((?:\s[^\[\]]*)?)\]")


def shortcode_attrs(text: str) -> dict[str, str]:
    attrs = {}
    for m in _ATTR.finditer(text or ""):
        if m.group(1):
            attrs[m.group(1).lower()] = m.group(2)
        elif m.group(3):
            attrs[m.group(3).lower()] = m.group(4)
        else:
            attrs[m.group(5).lower()] = m.group(6)
    return attrs


def fenced(code: str, language: str = "") -> str:
    code = code.strip("\n")
    longest = max((len(run) for run in re.findall(r"`{3,}", code)), default=2)
    fence = "`" * max(3, longest + 1)
    language = re.sub(r"[^\w+-]", "", language or "")[:30]
    return f"{fence}{language}\n{code}\n{fence}"


def _code_text(inner: str) -> str:
    """The text of code that WordPress stored as HTML (entities, <code>/<span> wrappers, <br>)."""
    inner = re.sub(r"<br\s*/?>", "\n", inner)
    return html.unescape(re.sub(r"<[^>]+>", "", inner))


def _pre_language(attrs: str) -> str:
    m = re.search(r"language-([\w+-]+)|lang(?:uage)?[:=]\s*['\"]?([\w+-]+)|brush:\s*([\w+-]+)", attrs or "", re.I)
    return next((g for g in m.groups() if g), "") if m else ""


@dataclass
class Converted:
    body: str
    notes: list[str] = field(default_factory=list)  # what could not be carried over, in words


Gallery = Callable[[list[str] | None], list[tuple[str, str, str]]]  # ids (None: the post's own) -> (url, alt, caption)


class _Blocks:
    """Pieces taken out before wpautop (as WordPress protects <pre>), put back as whole blocks after it."""

    def __init__(self):
        self.items: list[tuple[str, str]] = []  # ("markdown" | "html", text)

    def put(self, kind: str, text: str) -> str:
        self.items.append((kind, text))
        return f"\n\nWPIMPORTBLOCK{len(self.items) - 1}X\n\n"

    def get(self, chunk: str) -> tuple[str, str] | None:
        m = re.fullmatch(r"\s*(?:<p>)?\s*WPIMPORTBLOCK(\d+)X\s*(?:</p>)?\s*", chunk)
        return self.items[int(m.group(1))] if m else None


def _figure(image_html: str, caption_html: str) -> str:
    caption = f"<figcaption>{caption_html.strip()}</figcaption>" if caption_html.strip() else ""
    return sanitise(f'<figure class="figure">{image_html.strip()}{caption}</figure>')


def convert(content: str, *, gallery: Gallery | None = None, rewrite_url: Callable[[str], str] | None = None) -> Converted:
    """The post body for `content:encoded`; `gallery` finds a [gallery]'s images, `rewrite_url` maps old media URLs."""
    notes: list[str] = []
    blocks = _Blocks()
    text = (content or "").replace("\r\n", "\n").replace("\r", "\n")
    gutenberg = "<!-- wp:" in text
    text = re.sub(r"<!--\s*/?wp:.*?-->", "", text, flags=re.S)
    text = re.sub(r"<!--\s*(?:more|nextpage|noteaser)\b.*?-->", "", text, flags=re.S)

    # Code first, so nothing inside it is read as a shortcode or a paragraph.
    def code_shortcode(m: re.Match) -> str:
        name, attrs = m.group(1).lower(), shortcode_attrs(m.group(2))
        language = attrs.get("language") or attrs.get("lang") or CODE_ALIASES.get(name, name)
        return blocks.put("markdown", fenced(_code_text(m.group(3)), CODE_ALIASES.get(language, language)))

    names = "|".join(sorted(CODE_SHORTCODES, key=len, reverse=True))
    text = re.sub(rf"(?<!\[)\[({names})((?:\s[^\]]*)?)\](.*?)\[/\1\]", code_shortcode, text, flags=re.S | re.I)
    text = re.sub(r"<pre([^>]*)>(.*?)</pre>",
                  lambda m: blocks.put("markdown", fenced(_code_text(m.group(2)),
                                                          _pre_language(m.group(1) + " " + m.group(2)[:200]))),
                  text, flags=re.S | re.I)

    def caption(m: re.Match) -> str:
        attrs, inner = shortcode_attrs(m.group(2)), m.group(3)
        image = re.search(r"(<a\b[^>]*>\s*)?<img\b[^>]*>(\s*</a>)?", inner, re.I)
        if image is None:
            notes.append(f"[{m.group(1)}] without an image: its text kept as a paragraph")
            return blocks.put("html", sanitise(f"<p>{inner}</p>"))
        text_part = attrs.get("caption") or (inner[: image.start()] + inner[image.end():])
        return blocks.put("html", _figure(image.group(0), text_part))

    text = re.sub(r"\[(caption|wp_caption)((?:\s[^\]]*)?)\](.*?)\[/\1\]", caption, text, flags=re.S | re.I)

    def link_block(url: str, label: str = "") -> str:
        url = html.unescape(url.strip())
        if not re.match(r"https?://", url):
            notes.append(f"an embed of {url!r}, which is not a web address: left out")
            return ""
        return blocks.put("html", sanitise(f'<p><a href="{html.escape(url)}">{html.escape(label or url)}</a></p>'))

    text = re.sub(r"\[embed((?:\s[^\]]*)?)\](.*?)\[/embed\]", lambda m: link_block(m.group(2)), text, flags=re.S | re.I)
    # Gutenberg's embed block: the address alone in a wrapper, turned into a player by WordPress.
    text = re.sub(r'<figure[^>]*wp-block-embed[^>]*>\s*<div[^>]*wp-block-embed__wrapper[^>]*>\s*(\S+?)\s*</div>.*?</figure>',
                  lambda m: link_block(m.group(1)), text, flags=re.S | re.I)
    # A frame (a video player, a map) is dropped by the sanitiser: its address stays, as a link.
    text = re.sub(r'<iframe\b[^>]*\bsrc="([^"]+)"[^>]*>.*?</iframe>', lambda m: link_block(m.group(1)), text, flags=re.S | re.I)

    def gallery_block(m: re.Match) -> str:
        attrs = shortcode_attrs(m.group(1))
        ids = [i.strip() for i in attrs["ids"].split(",") if i.strip()] if attrs.get("ids") else None
        images = gallery(ids) if gallery else []
        if not images:
            notes.append("a [gallery] whose images are not in the export: left out")
            return ""
        figures = "".join(_figure(f'<img src="{html.escape(u)}" alt="{html.escape(a)}">', html.escape(c)) for u, a, c in images)
        return blocks.put("html", sanitise(f'<div class="gallery">{figures}</div>'))

    text = re.sub(r"(?<!\[)\[gallery((?:\s[^\]]*)?)\]", gallery_block, text, flags=re.I)

    for m in _LEFTOVER.finditer(text):
        name, rest = m.group(1), m.group(2)
        closing = f"[/{name}]" in text
        if closing or "=" in rest or "-" in name or "_" in name:
            note = f"[{name}]: no equivalent here, left as text"
            if note not in notes:
                notes.append(note)
    text = re.sub(r"\[\[([^\[\]]+)\]\]", r"[\1]", text)  # [[name]] is WordPress's way to write a literal [name]

    if not gutenberg:
        text = wpautop(text)
    body = _assemble(text, blocks)
    if rewrite_url is not None:
        body = re.sub(r'(\s(?:src|href)=")([^"]+)(")', lambda m: m.group(1) + html.escape(
            rewrite_url(html.unescape(m.group(2)))) + m.group(3), body)
    return Converted(body=body.strip() + "\n" if body.strip() else "", notes=notes)


# --- the stored body: top-level HTML split into blocks ---------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Tags that start a CommonMark HTML block (type 6): a chunk starting with anything else is wrapped in <p>.
BLOCK_TAGS = {"address", "article", "aside", "blockquote", "details", "div", "dl", "figcaption", "figure", "footer",
              "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "nav", "ol", "p", "section", "summary", "table",
              "ul", "dd", "dt"}


class _TopLevel(HTMLParser):
    """Splits well-formed HTML (the sanitiser's output) into its top-level nodes, as (tag or '', source)."""

    def __init__(self, source: str):
        super().__init__(convert_charrefs=False)
        self.source, self.nodes, self.depth, self.start, self.tag = source, [], 0, 0, ""
        self.lines = [0]
        for line in source.splitlines(keepends=True):
            self.lines.append(self.lines[-1] + len(line))

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.lines[line - 1] + column

    def _text_until(self, offset: int) -> None:
        if self.depth == 0 and offset > self.start:
            self.nodes.append(("", self.source[self.start:offset]))
            self.start = offset

    def handle_starttag(self, tag, attrs):
        offset = self._offset()
        if self.depth == 0:
            self._text_until(offset)
            self.start, self.tag = offset, tag
        end = offset + len(self.get_starttag_text() or "")
        if tag in VOID:
            if self.depth == 0:
                self.nodes.append((tag, self.source[offset:end]))
                self.start = end
            return
        self.depth += 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.depth -= 1

    def handle_endtag(self, tag):
        if tag in VOID or self.depth == 0:
            return
        self.depth -= 1
        if self.depth == 0:
            offset = self._offset()
            end = self.source.index(">", offset) + 1
            self.nodes.append((self.tag, self.source[self.start:end]))
            self.start = end

    def split(self) -> list[tuple[str, str]]:
        self.feed(self.source)
        self.close()
        if self.start < len(self.source):
            self.nodes.append(("" if self.depth == 0 else self.tag, self.source[self.start:]))
        return self.nodes


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#!&|~])")


def _heading(level: int, inner: str) -> str:
    parts = re.split(r"(<code\b[^>]*>.*?</code>)", inner, flags=re.S)
    out = []
    for index, part in enumerate(parts):
        text = html.unescape(re.sub(r"<[^>]+>", "", part))
        text = " ".join(text.split()) if index % 2 == 0 else text.strip()
        if index % 2:
            out.append(f"`{text}`" if "`" not in text else f"`` {text} ``")
        else:
            out.append(_MD_SPECIAL.sub(r"\\\1", text))
    words = "".join(out).strip()
    return f"{'#' * level} {words}" if words else ""


def _autolink(chunk: str) -> str:
    """WordPress turns an address alone in a paragraph into an embedded player; here it is a link."""
    m = re.fullmatch(r"<p>\s*(https?://[^\s<>\"]+)\s*</p>", chunk.strip())
    if m is None:
        return chunk
    url = m.group(1)
    return f'<p><a href="{url}">{url}</a></p>'


def _assemble(text: str, blocks: _Blocks) -> str:
    out: list[str] = []
    inline: list[str] = []

    def flush_inline():
        joined = "".join(inline).strip()
        inline.clear()
        if joined:
            out.append(_html_block(sanitise(f"<p>{joined}</p>")))

    # Placeholders on their own, so that sanitising the HTML around them cannot touch them.
    for piece in re.split(r"((?:<p>)?\s*WPIMPORTBLOCK\d+X\s*(?:</p>)?)", text):
        block = blocks.get(piece)
        if block is not None:
            flush_inline()
            out.append(block[1] if block[0] == "markdown" else _html_block(block[1]))
            continue
        for tag, chunk in _TopLevel(sanitise(piece)).split():
            if tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
                flush_inline()
                inner = re.sub(r"^<h\d[^>]*>|</h\d>$", "", chunk.strip())
                heading = _heading(int(tag[1]), inner)
                if heading:
                    out.append(heading)
            elif tag in BLOCK_TAGS:
                flush_inline()
                if plain_text(chunk).strip() or "<img" in chunk or tag == "hr":
                    out.append(_html_block(_autolink(chunk) if tag == "p" else chunk))
            else:
                inline.append(chunk)
    flush_inline()
    return "\n\n".join(b for b in out if b.strip())


def _html_block(chunk: str) -> str:
    """One HTML block: no blank line inside (it would end the block and turn the rest into Markdown)."""
    # The sanitiser's rel="noopener noreferrer" comes back at every rendering: not kept in what the editor shows.
    chunk = re.sub(r"<br>\s*</p>", "</p>", chunk.replace(' rel="noopener noreferrer"', ""))
    return re.sub(r"\n[ \t]*(?=\n)", "", chunk.strip()).replace("\n\n", "\n")


def excerpt_from(html_text: str, words: int = 55, max_chars: int = 300) -> str:
    """WordPress's automatic excerpt: the first 55 words of the text."""
    parts = plain_text(html_text).split()
    text = " ".join(parts[:words]) + ("…" if len(parts) > words else "")
    if len(text) > max_chars:
        text = text[: max_chars - 1].rsplit(" ", 1)[0] + "…"
    return text
