"""Markdown written by members and coordinators, made safe to show and to mail.

Markdown (raw HTML allowed in, so that it can be cleaned rather than shown as code) is
rendered by markdown-it and then sanitised by nh3 (Ammonia): a short list of tags, links
only to http(s) and mailto, ``<script>`` and ``<style>`` removed with their content.
A first-level heading becomes a second: the page or mail's own title is the only ``<h1>``.
Pipe tables are rendered (markdown-it's table rule) as plain tables.
The plain-text alternative is read off the sanitised HTML, so it can carry no more than it;
``html_to_text`` is the one reading of HTML as plain text, a mail's text part's too.

What is taken out is said, for the writer's preview (``notes``), never dropped without a word:

- a link to another scheme (``javascript:``, ``data:``, …) loses its address and is left as
  plain words – not as a link-coloured text that does nothing;
- an image is not shown: it becomes a link to the picture, with its alt text as the words.
  Pictures from other servers would tell those servers who reads the letter and when (the
  privacy statement promises no such trackers), the pages' Content-Security-Policy shows
  images from this server only, and many mail programs hide remote pictures anyway; a
  link (https only) keeps the picture one click away and its description readable.
"""

import html
import re
from html.parser import HTMLParser
from typing import ClassVar

import nh3
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

TAGS = {
    "p",
    "br",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "a",
    "blockquote",
    "code",
    "pre",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}}
SCHEMES = {"http", "https", "mailto"}
# An address's scheme as a browser reads it (case and the whitespace or control characters
# it skips ignored); none (a relative address) is let through as nh3 does.
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
# An <a> nh3 left without its href (raw HTML with a refused address): unwrapped to its words.
_BARE_LINK = re.compile(r'<a rel="noopener noreferrer">(.*?)</a>', re.DOTALL)


class _Markdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        """Every link is let through to nh3, which drops an href of another scheme (javascript:,
        data:) and keeps the words, instead of markdown-it leaving "[words](javascript:…)" as text."""
        return True


_parser = _Markdown("commonmark", {"html": True}).enable("table")


def _scheme(href: str) -> str | None:
    found = _SCHEME.match(re.sub(r"[\x00-\x20]", "", href).lower())
    return found.group(1) if found else None


def allowed_link(href: str) -> bool:
    """Whether nh3 keeps ``href`` (http, https, mailto, or relative)."""
    scheme = _scheme(href)
    return scheme is None or scheme in SCHEMES


def _words(tokens: list[Token]) -> str:
    return "".join(t.content for t in tokens if t.type in ("text", "code_inline")).strip()


def _render(text: str | None) -> tuple[Markup, list[LazyString]]:
    notes: list[LazyString] = []
    tokens = _parser.parse(text or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = "h2" if token.tag == "h1" else token.tag
        elif token.type == "th_open":
            token.attrs = {"scope": "col"}  # no style="text-align" (the pages' CSP allows none)
        elif token.type == "td_open":
            token.attrs = {}
        if token.type != "inline" or not token.children:
            continue
        children: list[Token] = []
        link: list[Token] | None = None  # a refused link's tokens, while inside it
        for child in token.children:
            if child.type == "link_open" and not allowed_link(str(child.attrGet("href") or "")):
                link = [child]
            elif link is not None:
                if child.type == "link_close":
                    href = str(link[0].attrGet("href") or "")
                    notes.append(
                        _l(
                            "This link was removed: «%(words)s» (%(href)s). Only http, https and mailto addresses are linked; the words stay as plain text.",
                            words=_words(link[1:]) or href,
                            href=href,
                        )
                    )
                    children += link[1:]
                    link = None
                else:
                    link.append(child)
            elif child.type == "image":
                src, alt = str(child.attrGet("src") or ""), _words(child.children or []) or child.content
                https = _scheme(src) == "https"
                if https:
                    opening = Token("link_open", "a", 1)
                    opening.attrs = {"href": src}
                    words = Token("text", "", 0)
                    words.content = alt or src
                    children += [opening, words, Token("link_close", "a", -1)]
                elif alt:
                    words = Token("text", "", 0)
                    words.content = alt
                    children.append(words)
                notes.append(
                    _l(
                        "Images are not shown in the newsletter: «%(alt)s» (%(src)s) is a link to the picture instead. Pictures from other servers would tell them who reads the letter.",
                        alt=alt or "–",
                        src=src,
                    )
                    if https
                    else _l(
                        "An image was removed: «%(alt)s» (%(src)s). Images are not shown, and only an https address can be linked.",
                        alt=alt or "–",
                        src=src,
                    )
                )
            else:
                children.append(child)
        if link is not None:  # never closed: keep its words
            children += link[1:]
        token.children = children
    rendered = _parser.renderer.render(tokens, _parser.options, {})
    clean = nh3.clean(
        rendered, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES, link_rel="noopener noreferrer"
    )

    def unwrap(found: re.Match[str]) -> str:  # raw HTML's <a href="javascript:…">
        notes.append(
            _l(
                "This link was removed: «%(words)s». Only http, https and mailto addresses are linked; the words stay as plain text.",
                words=to_plain(found.group(1)).strip(),
            )
        )
        return found.group(1)

    return Markup(_BARE_LINK.sub(unwrap, clean)), notes


def to_html(text: str | None) -> Markup:
    """Safe HTML (as Markup) for Markdown ``text``."""
    return _render(text)[0]


def notes(text: str | None) -> list[LazyString]:
    """What ``to_html`` took out of ``text`` (refused links, images), said for the writer's preview."""
    return _render(text)[1]


class _Text(HTMLParser):
    """HTML read the way a plain-text mail shows it (see ``html_to_text``)."""

    SKIP: ClassVar[frozenset[str]] = frozenset({"head", "title", "style", "script", "template"})
    BLOCKS: ClassVar[frozenset[str]] = frozenset(
        {
            "html",
            "body",
            "main",
            "article",
            "section",
            "header",
            "footer",
            "div",
            "p",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "ul",
            "ol",
            "li",
            "blockquote",
            "pre",
            "table",
            "thead",
            "tbody",
            "tfoot",
            "tr",
            "td",
            "th",
        }
    )
    UNDERLINE: ClassVar[dict[str, str]] = {"h1": "=", "h2": "-"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.frames = [_Frame("root")]
        self.skipping = 0
        self.link: tuple[str, list[str]] | None = None  # (href, words) while inside <a>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif self.skipping:
            return
        elif tag in self.BLOCKS:
            parent = self.frames[-1]
            parent.flush()
            marker = ""
            if tag == "li":
                parent.items += 1
                marker = f"{parent.items}. " if parent.tag == "ol" else "- "
            self.frames.append(_Frame(tag, marker, pre=tag == "pre" or parent.pre))
        elif tag == "br":
            self.frames[-1].run.append("\n")
        elif tag == "hr":
            self.frames[-1].flush()
            self.frames[-1].chunks.append("* * *")
        elif tag == "a":
            self.link = (dict(attrs).get("href") or "", [])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in self.SKIP or tag in self.BLOCKS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(self.skipping - 1, 0)
        elif self.skipping:
            return
        elif tag in self.BLOCKS and any(frame.tag == tag for frame in self.frames[1:]):
            while True:  # an end tag closes what was left open inside it
                frame = self.frames.pop()
                self.frames[-1].add(frame.render())
                if frame.tag == tag:
                    break
        elif tag == "a" and self.link is not None:
            href, words = self.link
            self.link = None
            text = " ".join("".join(words).split())
            if href and href not in (text, f"mailto:{text}"):
                self.frames[-1].links.append((text, href.removeprefix("mailto:")))

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        frame = self.frames[-1]
        if not frame.pre:
            data = re.sub(r"\s+", " ", data)
        frame.run.append(data)
        if self.link is not None:
            self.link[1].append(data)

    def text(self) -> str:
        while len(self.frames) > 1:
            frame = self.frames.pop()
            self.frames[-1].add(frame.render())
        text = self.frames[0].render()
        return re.sub(r"\n{3,}", "\n\n", text).strip()


class _Frame:
    """One open block: its finished paragraphs (``chunks``), and the inline text being read."""

    def __init__(self, tag: str, marker: str = "", pre: bool = False) -> None:
        self.tag, self.marker, self.pre = tag, marker, pre
        self.chunks: list[str] = []
        self.run: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.items = 0

    def flush(self) -> None:
        """The inline text read so far becomes a paragraph, its links each on a line after it."""
        text = "".join(self.run)
        lines = text.split("\n") if self.pre else [line.strip() for line in text.split("\n")]
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        text = "\n".join(line.rstrip() for line in lines)
        links = [(words[:1].upper() + words[1:], href) for words, href in self.links]
        if len(links) == 1 and text.casefold() == links[0][0].casefold():
            text = ""  # the link alone: "Words: URL"
        lines = [text] if text else []
        lines += [f"{words}: {href}" if words else href for words, href in links]
        if lines:
            self.chunks.append("\n".join(lines))
        self.run, self.links = [], []

    def add(self, chunk: str) -> None:
        self.flush()
        if chunk:
            self.chunks.append(chunk)

    def render(self) -> str:
        self.flush()
        if self.tag in ("ul", "ol", "table", "tbody", "tfoot"):
            return "\n".join(self.chunks)
        if self.tag == "thead":  # the heading row, underlined
            rows = "\n".join(self.chunks)
            width = max((len(line) for line in rows.split("\n")), default=0)
            return f"{rows}\n{'-' * width}" if rows else ""
        if self.tag == "tr":  # a row on a line: "a | b | c"
            return " | ".join(self.chunks).rstrip()
        if self.tag in ("td", "th"):
            return " ".join(" ".join(self.chunks).split()) or " "
        body = "\n".join(self.chunks) if self.tag == "li" else "\n\n".join(self.chunks)
        if not body:
            return ""
        if self.tag == "li":
            indent = " " * len(self.marker)
            first, *rest = body.split("\n")
            return "\n".join([self.marker + first] + [indent + line if line else line for line in rest])
        if self.tag == "blockquote":
            return "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
        if self.tag in _Text.UNDERLINE:
            first, *rest = body.split("\n")
            return "\n".join([first, _Text.UNDERLINE[self.tag] * len(first), *rest])
        return body


def html_to_text(markup: str) -> str:
    """The plain-text part of a mail (or a Teams post), read off its HTML, so it can say no more
    and no less than the HTML does.

    Paragraphs, headings and block quotes are separated by a blank line; ``<br>`` breaks a line;
    list items start with "- " or "1. " (nested lists indented); a first- or second-level heading
    is underlined with "=" or "-"; a quote's lines start with "> "; ``<head>``, ``<style>`` and
    ``<script>`` are left out, entities read as the characters they stand for.  A link keeps its
    words where they stand and its address goes, as "Words: https://…", on a line of its own after
    the paragraph it is in – the paragraph's only line if the link is all of it – so the address
    ends its line (a plain-text client makes it clickable, and no punctuation sticks to it).  A
    link whose words are its address stays where it is.
    """
    reader = _Text()
    reader.feed(str(markup))
    reader.close()
    return reader.text()


def to_text(text: str | None) -> str:
    """A plain-text rendering of Markdown ``text``, made from its safe HTML."""
    return html_to_text(to_html(text))


def to_plain(text: object) -> str:
    """Text meant as plain (a title, a name) for a plain-text mail: any markup in it removed."""
    return html.unescape(nh3.clean(str(text or ""), tags=set()))
