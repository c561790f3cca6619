"""A tiny document model rendered to Markdown and to a self-contained HTML page.

The report is built once as a list of blocks (headings, paragraphs, tables, figures, lists)
and rendered twice, so ``report.md`` and ``report.html`` can never disagree. Figures are
embedded in the HTML as data URIs so the page opens offline as a single file.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Paragraph:
    text: str  # may contain **bold** and `code`


@dataclass
class BulletList:
    items: list[str]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""
    align: list[str] = field(default_factory=list)  # "l" / "r" per column


@dataclass
class Figure:
    path: str  # relative to the report's folder
    caption: str


Block = Heading | Paragraph | BulletList | Table | Figure


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}\n")
        elif isinstance(b, Paragraph):
            out.append(f"{b.text}\n")
        elif isinstance(b, BulletList):
            out.append("\n".join(f"- {item}" for item in b.items) + "\n")
        elif isinstance(b, Table):
            if b.caption:
                out.append(f"*{b.caption}*\n")
            align = b.align or ["l"] * len(b.header)
            sep = ["---:" if a == "r" else "---" for a in align]
            lines = [
                "| " + " | ".join(_md_cell(h) for h in b.header) + " |",
                "| " + " | ".join(sep) + " |",
            ]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines) + "\n")
        elif isinstance(b, Figure):
            out.append(f"![{b.caption}]({b.path})\n\n*{b.caption}*\n")
    return "\n".join(out)


_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"`(.+?)`"), r"<code>\1</code>"),
]


def _inline(text: str) -> str:
    s = html.escape(str(text), quote=False)
    for pattern, repl in _INLINE:
        s = pattern.sub(repl, s)
    return s


# A laptop screen (1366 px) shows every table whole: tables use a compact font and scroll
# inside their own box if a wide one (many Fig. 6 series) would still overflow.
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
.tw{overflow-x:auto;margin:.6em 0 1.4em}
table{border-collapse:collapse;font-size:14px}th,td{border:1px solid #ccc;
padding:.2em .5em}th{background:#f2f2f2;position:sticky;top:0}
td.r{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:nth-child(even){background:#fafafa}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption,.caption{color:#555;font-style:italic}code{background:#f5f5f5;padding:0 .2em}
"""


def to_html(blocks: list[Block], title: str, base_dir: Path) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
    ]
    for b in blocks:
        if isinstance(b, Heading):
            parts.append(f"<h{b.level}>{_inline(b.text)}</h{b.level}>")
        elif isinstance(b, Paragraph):
            parts.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, BulletList):
            parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Table):
            align = b.align or ["l"] * len(b.header)
            head = "".join(f"<th>{_inline(h)}</th>" for h in b.header)
            body = "".join(
                "<tr>"
                + "".join(
                    f'<td class="{a}">{_inline(c)}</td>' for a, c in zip(align, row, strict=False)
                )
                + "</tr>"
                for row in b.rows
            )
            cap = f'<p class="caption">{_inline(b.caption)}</p>' if b.caption else ""
            parts.append(
                f'{cap}<div class="tw"><table><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table></div>"
            )
        elif isinstance(b, Figure):
            img = base_dir / b.path
            if img.is_file():
                data = base64.b64encode(img.read_bytes()).decode()
                src = f"data:image/png;base64,{data}"
            else:
                src = html.escape(b.path)
            parts.append(
                f'<figure><img src="{src}" alt="{html.escape(b.caption)}">'
                f"<figcaption>{_inline(b.caption)}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
