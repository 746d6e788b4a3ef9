"""Markdown written by members and coordinators, made safe to show and to mail.

Markdown (raw HTML allowed in, so that it can be cleaned rather than shown as code) is
rendered by markdown-it and then sanitised by nh3 (Ammonia): a short list of tags, links
only to http(s) and mailto, ``<script>`` and ``<style>`` removed with their content.
A first-level heading becomes a second: the page or mail's own title is the only ``<h1>``.
The plain-text alternative is read off the sanitised HTML, so it can carry no more than it.
"""

import html
from html.parser import HTMLParser
from typing import ClassVar

import nh3
from markdown_it import MarkdownIt
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
}
ATTRIBUTES = {"a": {"href", "title"}}
SCHEMES = {"http", "https", "mailto"}

_parser = MarkdownIt("commonmark", {"html": True})
# Every link is let through to nh3, which drops an href of another scheme (javascript:, data:)
# and keeps the words, instead of markdown-it leaving the whole "[words](javascript:…)" as text.
_parser.validateLink = lambda url: True


def to_html(text):
    """Safe HTML (as Markup) for Markdown ``text``."""
    tokens = _parser.parse(text or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = "h2" if token.tag == "h1" else token.tag
    rendered = _parser.renderer.render(tokens, _parser.options, {})
    return Markup(
        nh3.clean(
            rendered, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES, link_rel="noopener noreferrer"
        )
    )


class _Text(HTMLParser):
    BLOCKS: ClassVar[frozenset[str]] = frozenset(
        {"p", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "pre", "hr"}
    )

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []
        self.href = None
        self.link_text = []

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCKS:
            self.out.append("\n\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag == "br":
            self.out.append("\n")
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.link_text = []
        if tag == "hr":
            self.out.append("* * *")

    def handle_endtag(self, tag):
        if tag == "a" and self.href:
            text = "".join(self.link_text).strip()
            if self.href not in (text, f"mailto:{text}"):
                self.out.append(f" <{self.href}>")
            self.href = None
        elif tag in self.BLOCKS:
            self.out.append("\n\n")

    def handle_data(self, data):
        if "\n" in data and not data.strip():
            return  # the layout between tags
        self.out.append(data)
        if self.href:
            self.link_text.append(data)

    def text(self):
        lines = [line.rstrip() for line in "".join(self.out).splitlines()]
        result, blank = [], True
        for line in lines:
            if line or not blank:
                result.append(line)
            blank = not line
        return "\n".join(result).strip()


def to_text(text):
    """A plain-text rendering of Markdown ``text``, made from its safe HTML."""
    reader = _Text()
    reader.feed(str(to_html(text)))
    reader.close()
    return reader.text()


def to_plain(text):
    """Text meant as plain (a title, a name) for a plain-text mail: any markup in it removed."""
    return html.unescape(nh3.clean(str(text or ""), tags=set()))
