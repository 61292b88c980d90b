"""Pages as one list of blocks (headings, paragraphs, tables, images), written as Markdown (a run
folder's own summaries, the report's twin, for pasting into a paper or an issue) or as a
self-contained HTML page (images embedded, a content security policy that forbids any request, no
script): the report's."""

from __future__ import annotations

import base64
import dataclasses
import html
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from multimodal_genre.files import write_text


@dataclasses.dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclasses.dataclass(frozen=True)
class Paragraph:
    text: str


@dataclasses.dataclass(frozen=True)
class Banner:
    """A warning no reader can miss (runs on synthetic data)."""

    text: str


@dataclasses.dataclass(frozen=True)
class Items:
    items: list[str]


@dataclasses.dataclass(frozen=True)
class Table:
    """Cells as text; ``best`` (same shape, booleans) marks cells to set in bold with a star."""

    frame: pd.DataFrame
    best: pd.DataFrame | None = None
    caption: str = ""


@dataclasses.dataclass(frozen=True)
class Image:
    path: Path
    caption: str


@dataclasses.dataclass(frozen=True)
class Gallery:
    """Images side by side where the page is wide enough (one after another in Markdown); many
    to a row where they are ``thumbnails``."""

    images: list[Image]
    thumbnails: bool = False


@dataclasses.dataclass(frozen=True)
class Contents:
    """Links to the page's sections: its headings of level 2, in order."""


Block = Heading | Paragraph | Banner | Items | Table | Image | Gallery | Contents
BEST_MARK = "★"

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; font-size: 15px;
       line-height: 1.45; color: #1a1a1a; max-width: 1320px; margin: 0 auto; padding: 24px; }
h1 { font-size: 28px; margin-bottom: 4px; } h2 { font-size: 22px; margin-top: 36px;
     border-bottom: 2px solid #ddd; padding-bottom: 4px; } h3 { font-size: 18px; margin-top: 24px; }
.banner { background: #b00020; color: white; font-size: 20px; font-weight: bold; padding: 16px 20px;
          border-radius: 6px; margin: 16px 0; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 4px; }
th, td { border: 1px solid #c8c8c8; padding: 4px 10px; text-align: left; vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f0f0f0; }
td.best { font-weight: bold; background: #e3f4e1; }
figure { margin: 12px 0 24px; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 0 16px; }
.gallery.thumbnails { grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); }
nav { display: inline-block; background: #f7f7f7; border: 1px solid #ddd; border-radius: 6px;
      padding: 4px 24px 4px 8px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e2e2e2; }
figcaption { font-size: 13px; color: #555; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  figure, table, .banner { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  .banner, td.best, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""
_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def anchors(blocks: Sequence[Block]) -> dict[int, str]:
    """An anchor for each heading of level 2, by its place in ``blocks``: its text in GitHub's way
    (lower case, spaces as hyphens, punctuation dropped), ``-1``, ``-2``... after a repeat, so the
    HTML page's ids and the Markdown's links agree."""
    found: dict[int, str] = {}
    taken: dict[str, int] = {}
    for index, block in enumerate(blocks):
        if isinstance(block, Heading) and block.level == 2:
            slug = re.sub(r"[^\w\- ]", "", block.text.lower()).replace(" ", "-")
            found[index] = slug if slug not in taken else f"{slug}-{taken[slug]}"
            taken[slug] = taken.get(slug, 0) + 1
    return found


def _contents(blocks: Sequence[Block], ids: dict[int, str]) -> list[tuple[str, str]]:
    """(heading, anchor) of each section, for a ``Contents`` block."""
    return [(blocks[index].text, anchor) for index, anchor in ids.items()]


def write_html(path: Path, title: str, blocks: Sequence[Block]) -> None:
    ids = anchors(blocks)
    links = _contents(blocks, ids)
    body = "\n".join(_html_block(block, ids.get(index), links) for index, block in enumerate(blocks))
    write_text(
        path,
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n",
    )


def write_markdown(path: Path, blocks: Sequence[Block]) -> None:
    """Figures are linked relative to ``path``'s folder."""
    links = _contents(blocks, anchors(blocks))
    write_text(path, "\n".join(_markdown_block(block, path.parent, links) for block in blocks))


def _html_block(block: Block, anchor: str | None = None, links: Sequence[tuple[str, str]] = ()) -> str:
    match block:
        case Heading(level, text):
            named = f' id="{anchor}"' if anchor else ""
            return f"<h{level}{named}>{html.escape(text)}</h{level}>"
        case Contents():
            items = "".join(f'<li><a href="#{anchor}">{html.escape(text)}</a></li>' for text, anchor in links)
            return f'<nav aria-label="Contents"><p><strong>Contents</strong></p><ol>{items}</ol></nav>'
        case Paragraph(text):
            return f"<p>{html.escape(text)}</p>"
        case Banner(text):
            return f'<div class="banner" role="alert">{html.escape(text)}</div>'
        case Items(items):
            return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"
        case Table(frame, best, caption):
            return _html_table(frame, best, caption)
        case Image(path, caption):
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            return (
                f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption, quote=True)}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        case Gallery(images, thumbnails):
            kind = "gallery thumbnails" if thumbnails else "gallery"
            return f'<div class="{kind}">' + "".join(_html_block(image) for image in images) + "</div>"
    raise TypeError(f"not a report block: {block!r}")


def _html_table(frame: pd.DataFrame, best: pd.DataFrame | None, caption: str) -> str:
    head = "".join(f"<th>{html.escape(str(name))}</th>" for name in [frame.index.name or "", *frame.columns])
    rows = []
    for row, values in frame.iterrows():
        cells = [f"<th>{html.escape(str(row))}</th>"]
        for column, value in values.items():
            marked = best is not None and bool(best.loc[row, column])
            classes = " ".join(name for name, wanted in (("number", _is_number(value)), ("best", marked)) if wanted)
            text = html.escape(str(value)) + (f" {BEST_MARK}" if marked else "")
            cells.append(f'<td class="{classes}">{text}</td>' if classes else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _markdown_block(block: Block, folder: Path, links: Sequence[tuple[str, str]] = ()) -> str:
    match block:
        case Heading(level, text):
            return f"{'#' * level} {text}\n"
        case Contents():
            entries = "".join(f"{number}. [{text}](#{anchor})\n" for number, (text, anchor) in enumerate(links, 1))
            return f"**Contents**\n\n{entries}"
        case Paragraph(text):
            return f"{text}\n"
        case Banner(text):
            return f"> **{text}**\n"
        case Items(items):
            return "".join(f"- {item}\n" for item in items)
        case Table(frame, best, caption):
            marked = frame.copy()
            if best is not None:
                marked = marked.where(~best.astype(bool), "**" + frame.astype(str) + f"** {BEST_MARK}")
            table = marked.map(lambda value: str(value).replace("|", "\\|")).to_markdown(disable_numparse=True)
            return (f"{caption}\n\n" if caption else "") + table + "\n"
        case Image(path, caption):
            return f"![{caption}]({path.relative_to(folder).as_posix()})\n"
        case Gallery(images, _):
            return "\n".join(_markdown_block(image, folder) for image in images)
    raise TypeError(f"not a report block: {block!r}")


def _is_number(value: object) -> bool:
    text = str(value).split(" ± ")[0].replace("−", "-")
    try:
        float(text)
    except ValueError:
        return False
    return True
