"""The report's text as blocks (headings, paragraphs, bullet lists, tables), rendered to Markdown and HTML.

One set of blocks makes both ``summary.md`` and ``report.html``, so the two
cannot disagree. The HTML is not converted from the Markdown: architecture
strings hold ``|``, which GitHub's Markdown reads as a cell separator even in
code unless escaped as ``\\|``, while Python-Markdown shows that backslash.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Code", "Link", "Heading", "Paragraph", "Bullets", "Table", "Image", "Interactive", "Block",
           "to_markdown", "to_html"]


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Link:
    text: str
    href: str


#: a run of text: plain strings, code and links, in order
Inline = str | Code | Link | Sequence["str | Code | Link"]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: Inline


@dataclass(frozen=True)
class Bullets:
    items: Sequence[Inline]


@dataclass(frozen=True)
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[Inline]]
    numeric: Sequence[bool] = ()  # per column: right-aligned

    def right(self, column: int) -> bool:
        return bool(self.numeric) and self.numeric[column]


@dataclass(frozen=True)
class Image:
    """A picture: a file beside the Markdown, inlined as data in the HTML (``data`` is a data: URL)."""

    title: str
    file: str
    data: str


@dataclass(frozen=True)
class Interactive:
    """A chart that runs in the page (its own HTML and script); the Markdown shows ``fallback`` instead."""

    html: str
    fallback: Image


Block = Heading | Paragraph | Bullets | Table | Image | Interactive


def _render(text: Inline, code: Callable[[Code], str], link: Callable[[Link], str],
            plain: Callable[[str], str]) -> str:
    pieces = [text] if isinstance(text, str | Code | Link) else text
    return "".join(code(p) if isinstance(p, Code) else link(p) if isinstance(p, Link) else plain(p)
                   for p in pieces)


def _md_inline(text: Inline, in_table: bool = False) -> str:
    joined = _render(text, lambda c: f"`{c.text}`", lambda ln: f"[{ln.text}]({ln.href})", str)
    return joined.replace("|", "\\|") if in_table else joined


def _html_inline(text: Inline) -> str:
    return _render(text, lambda c: f"<code>{html.escape(c.text)}</code>",
                   lambda ln: f'<a href="{html.escape(ln.href)}">{html.escape(ln.text)}</a>', html.escape)


def to_markdown(blocks: Sequence[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines.append("#" * block.level + " " + block.text)
        elif isinstance(block, Paragraph):
            lines.append(_md_inline(block.text))
        elif isinstance(block, Bullets):
            lines.extend("- " + _md_inline(item) for item in block.items)
        elif isinstance(block, Table):
            align = ["---:" if block.right(i) else "---" for i in range(len(block.headers))]
            lines.append("| " + " | ".join(block.headers) + " |")
            lines.append("|" + "|".join(align) + "|")
            lines.extend("| " + " | ".join(_md_inline(c, in_table=True) for c in row) + " |"
                         for row in block.rows)
        elif isinstance(block, Image | Interactive):
            image = block if isinstance(block, Image) else block.fallback
            lines.append(f"![{image.title}]({image.file})")
        lines.append("")
    return "\n".join(lines)


def _html_table(table: Table) -> str:
    def cls(i: int) -> str:
        return ' class="num"' if table.right(i) else ""

    head = "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(table.headers))
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{_html_inline(c)}</td>" for i, c in enumerate(row))
                   + "</tr>" for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(blocks: Sequence[Block]) -> str:
    out = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_html_inline(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append("<ul>" + "".join(f"<li>{_html_inline(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            out.append(_html_table(block))
        elif isinstance(block, Image):
            out.append(f'<figure><img alt="{html.escape(block.title)}" src="{block.data}"></figure>')
        elif isinstance(block, Interactive):
            out.append(f'<figure class="interactive">{block.html}</figure>')
    return "\n".join(out)
