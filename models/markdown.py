"""Markdown written by members and coordinators, made safe to show and to mail.

Markdown (raw HTML allowed in, so that it can be cleaned rather than shown as code) is
rendered by markdown-it and then sanitised by nh3 (Ammonia): a short list of tags, links
only to http(s) and mailto, ``<script>`` and ``<style>`` removed with their content.
A first-level heading becomes a second: the page or mail's own title is the only ``<h1>``.
The plain-text alternative is read off the sanitised HTML, so it can carry no more than it;
``html_to_text`` is the one reading of HTML as plain text, a mail's text part's too.
"""

import html
import re
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


class _Markdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        """Every link is let through to nh3, which drops an href of another scheme (javascript:,
        data:) and keeps the words, instead of markdown-it leaving "[words](javascript:…)" as text."""
        return True


_parser = _Markdown("commonmark", {"html": True})


def to_html(text: str | None) -> Markup:
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
        if self.tag in ("ul", "ol"):
            return "\n".join(self.chunks)
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
