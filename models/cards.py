"""The card a Teams channel gets: an Adaptive Card, or for an Office 365 connector a MessageCard.

A post names its network, has a title, a short text (the first ``SHORT`` characters or so,
headings kept as bold lines) and labelled buttons to where the reader acts ("Les nyhetsbrevet",
"Bli med i møtet") – never an address as text: a link's words are shown, and an address written
as text is shown as its host name, linked.

Which card: the Workflows app (Power Automate: ``*.logic.azure.com``, ``*.powerplatform.com``),
which replaces incoming webhooks, takes only an Adaptive Card, sent as a ``message`` with one
attachment; an Office 365 connector's address (``*.webhook.office.com``, formerly
``outlook.office.com``) gets the legacy MessageCard it is sure to take, with the same text and
buttons (``potentialAction``).  The address decides, so a network that moves its channel to
Workflows gets Adaptive Cards once the new address is saved – no setting to forget.
"""

import re
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from models.markdown import to_html

SHORT = 600  # characters of text a post shows before "…" (the button leads to the rest)
CONNECTOR_HOSTS = ("webhook.office.com", "outlook.office.com", "outlook.office365.com")
ADAPTIVE = "application/vnd.microsoft.card.adaptive"


class Block(NamedTuple):
    """A paragraph (``kind`` "text", inline Markdown as Teams reads it) or a heading ("heading")."""

    kind: str
    text: str


class Button(NamedTuple):
    title: str
    url: str


_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'\"]", re.I)
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")


def host_of(url: str) -> str:
    """What an address is shown as: its host, without "www." (``https://www.fhi.no/x`` → fhi.no)."""
    host = urlsplit(url if "://" in url else f"https://{url}").hostname or url
    return host.removeprefix("www.")


def _words(text: str) -> str:
    """A link's words, with no square bracket to end them early."""
    return text.replace("[", "(").replace("]", ")")


def _linked(text: str) -> str:
    """Plain ``text`` with each address in it shown as its host, linked (Teams Markdown)."""
    out, at = [], 0
    for match in _URL.finditer(text):
        url = match.group(0)
        href = url if "://" in url else f"https://{url}"
        out += [text[at : match.start()], f"[{_words(host_of(url))}]({href})"]
        at = match.end()
    return "".join([*out, text[at:]])


def visible(markdown: str) -> str:
    """What a reader sees of a block's inline Markdown: links' words, no markup."""
    text = _LINK.sub(r"\1", markdown)
    return re.sub(r"\*\*|(?<!\w)_|_(?!\w)", "", text)


def from_text(text: str | None) -> list[Block]:
    """Plain text (a meeting's description or agenda): a block per paragraph, lines kept."""
    paragraphs = re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n").strip())
    return [
        Block("text", "\n".join(_linked(line.strip()) for line in p.split("\n"))) for p in paragraphs if p
    ]


class _Blocks(HTMLParser):
    """Safe HTML (``models.markdown.to_html``) read as blocks of Teams Markdown."""

    HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
    BREAKS = frozenset({"p", "blockquote", "pre", "table", "hr", "div"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.run: list[str] = []
        self.heading = False
        self.lists: list[list[int]] = []  # [ordered, items so far] of each open list
        self.link: tuple[str, int] | None = None  # (href, where its words start in run)
        self.pre = 0
        self.cells = 0

    def flush(self) -> None:
        text = "\n".join(line.strip() for line in "".join(self.run).strip().split("\n"))
        text = re.sub(r"\n{2,}", "\n", text)
        if visible(text).strip():
            self.blocks.append(Block("heading" if self.heading else "text", text))
        self.run, self.heading = [], False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HEADINGS:
            self.flush()
            self.heading = True
        elif tag in self.BREAKS:
            if not self.lists:
                self.flush()
            self.pre += tag == "pre"
        elif tag in ("ul", "ol"):
            if not self.lists:
                self.flush()
            self.lists.append([tag == "ol", 0])
        elif tag == "li" and self.lists:
            ordered, items = self.lists[-1]
            self.lists[-1][1] = items + 1
            if "".join(self.run).strip():
                self.run.append("\n")
            indent = "  " * (len(self.lists) - 1)
            self.run.append(f"{indent}{items + 1}. " if ordered else f"{indent}- ")
        elif tag == "tr":
            self.run.append("\n")
            self.cells = 0
        elif tag in ("td", "th"):
            self.run.append(" | " if self.cells else "")
            self.cells += 1
        elif tag == "br":
            self.run.append("\n")
        elif tag == "strong":
            self.run.append("**")
        elif tag == "em":
            self.run.append("_")
        elif tag == "a":
            self.link = (dict(attrs).get("href") or "", len(self.run))
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if alt:
                self.run.append(f"({alt})")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HEADINGS:
            self.flush()
        elif tag in self.BREAKS:
            self.pre -= tag == "pre" and self.pre > 0
            if not self.lists:
                self.flush()
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            if not self.lists:
                self.flush()
        elif tag == "strong":
            self.run.append("**")
        elif tag == "em":
            self.run.append("_")
        elif tag == "a" and self.link is not None:
            href, start = self.link
            self.link = None
            words = " ".join(visible("".join(self.run[start:])).split())
            del self.run[start:]
            if href.startswith(("http://", "https://")):
                shown = host_of(href) if not words or _URL.fullmatch(words) else words
                self.run.append(f"[{_words(shown)}]({href.replace(')', '%29')})")
            else:  # mailto: the words (an address as text is no link in a channel)
                self.run.append(words or href.removeprefix("mailto:"))

    def handle_data(self, data: str) -> None:
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
        self.run.append(data if self.link is not None else _linked(data))

    def close(self) -> None:
        super().close()
        self.flush()


def from_markdown(markdown: str | None) -> list[Block]:
    """Markdown (a newsletter's text) as blocks: made safe first, headings kept as headings."""
    reader = _Blocks()
    reader.feed(str(to_html(markdown)))
    reader.close()
    return reader.blocks


def shorten(blocks: Iterable[Block], limit: int = SHORT) -> list[Block]:
    """The first ``limit`` or so visible characters: whole blocks while they fit, then the one that
    does not, cut at a word and ended with "…" (a heading with nothing after it is left out)."""
    kept: list[Block] = []
    left = limit
    for block in blocks:
        seen = visible(block.text)
        if len(seen) <= left:
            kept.append(block)
            left -= len(seen)
            continue
        if left >= 60 and block.kind == "text":
            cut = seen[:left].rsplit(None, 1)[0] if " " in seen[:left] else seen[:left]
            kept.append(Block("text", cut.rstrip(" ,.;:") + " …"))
        elif kept and kept[-1].kind == "text":
            kept[-1] = Block("text", kept[-1].text + " …")
        break
    while kept and kept[-1].kind == "heading":
        kept.pop()
    return kept


def _breaks(text: str) -> str:
    """A line break as a TextBlock shows one: a list item's line starts with its marker after one
    newline; any other line needs a blank line before it (a single newline is read as a space)."""
    return re.sub(r"\n(?!\s*(?:- |\d+\. ))", "\n\n", text)


def is_connector(url: str) -> bool:
    """An Office 365 connector's address (the legacy incoming webhook), not a Workflows one."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return any(host == h or host.endswith("." + h) for h in CONNECTOR_HOSTS)


def adaptive_card(
    context: str | None, title: str, blocks: Sequence[Block], buttons: Sequence[Button]
) -> dict[str, Any]:
    """A ``message`` with one Adaptive Card (1.4), as Workflows' "Post to a channel when a webhook
    request is received" takes it: the network, the title, the text, a button per link."""
    body: list[dict[str, Any]] = []
    if context:
        body.append({"type": "TextBlock", "text": context, "size": "Small", "isSubtle": True, "wrap": True})
    body.append({"type": "TextBlock", "text": title, "size": "Large", "weight": "Bolder", "wrap": True})
    for block in blocks:
        if block.kind == "heading":
            body.append(
                {
                    "type": "TextBlock",
                    "text": block.text,
                    "size": "Medium",
                    "weight": "Bolder",
                    "wrap": True,
                    "spacing": "Medium",
                }
            )
        else:
            body.append({"type": "TextBlock", "text": _breaks(block.text), "wrap": True})
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    if buttons:
        content["actions"] = [{"type": "Action.OpenUrl", "title": b.title, "url": b.url} for b in buttons]
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE, "contentUrl": None, "content": content}],
    }


def message_card(
    context: str | None, title: str, blocks: Sequence[Block], buttons: Sequence[Button]
) -> dict[str, Any]:
    """The legacy connector card: the same network, title, text (headings as bold lines) and
    buttons (``OpenUri`` actions)."""
    text = "\n\n".join(f"**{visible(b.text)}**" if b.kind == "heading" else _breaks(b.text) for b in blocks)
    section = {"activityTitle": context or "", "text": text}
    card: dict[str, Any] = {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": title,
        "title": title,
        "sections": [{k: v for k, v in section.items() if v}],
    }
    if buttons:
        card["potentialAction"] = [
            {"@type": "OpenUri", "name": b.title, "targets": [{"os": "default", "uri": b.url}]}
            for b in buttons
        ]
    return card


def card_for(
    url: str,
    context: str | None,
    title: str,
    blocks: Sequence[Block],
    buttons: Sequence[tuple[str, str | None]] = (),
) -> dict[str, Any]:
    """The card the channel at ``url`` takes (see the module's docstring), its text shortened;
    a button per (label, address) that has an address."""
    short = shorten(blocks)
    make = message_card if is_connector(url) else adaptive_card
    return make(context, title, short, [Button(str(t), u) for t, u in buttons if u])
