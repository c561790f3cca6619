"""The report's document model renders the same content to Markdown and HTML."""

import base64
import html as html_lib
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from amrkit.report.document import (
    BulletList,
    Figure,
    Heading,
    Paragraph,
    Table,
    to_html,
    to_markdown,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def test_markdown_and_html_carry_the_same_content(tmp_path: Path) -> None:
    (tmp_path / "f.png").write_bytes(PNG)
    blocks = [
        Heading("Title", 1),
        Paragraph("Some **bold** and `code`."),
        BulletList(["one", "two | pipe"]),
        Table(["A", "B"], [["1", "x|y"], ["2", "<z>"]], caption="cap", align=["r", "l"]),
        Figure("f.png", "a figure"),
    ]
    md = to_markdown(blocks)
    assert md.startswith("# Title")
    assert "| A | B |" in md and "| ---: | --- |" in md
    assert "| 1 | x\\|y |" in md  # pipes inside cells are escaped
    assert "![a figure](f.png)" in md
    page = to_html(blocks, "t", tmp_path)
    assert "<strong>bold</strong>" in page and "<code>code</code>" in page
    assert "&lt;z&gt;" in page  # escaped, not markup
    assert "data:image/png;base64," in page  # the figure is embedded: opens offline
    assert 'src="f.png"' not in page


@given(
    st.lists(
        st.lists(
            st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"])),
            min_size=2,
            max_size=2,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_every_cell_survives_rendering(rows: list[list[str]]) -> None:
    md = to_markdown([Table(["a", "b"], rows)])
    body = md.strip().splitlines()[2:]
    assert len(body) == len(rows)
    page = to_html([Table(["a", "b"], rows)], "t", Path("."))
    cells = re.findall(r"<td class=\"l\">(.*?)</td>", page, flags=re.S)
    assert len(cells) == 2 * len(rows)
    for cell, text in zip(cells, [c for r in rows for c in r], strict=True):
        plain = re.sub(r"</?(strong|code)>", "", cell)
        # inline markup (**bold**, `code`) is the only transformation
        assert html_lib.unescape(plain).replace("*", "").replace("`", "") == text.replace(
            "*", ""
        ).replace("`", "")
