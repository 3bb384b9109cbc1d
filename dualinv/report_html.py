"""A small self-contained ``index.html`` that shows one head's outputs side by side.

Plain HTML and CSS with relative links, so the folder can be copied, zipped or served as it is; no
network resource is referenced. A few lines of inline script count the images that failed to load
and write the count onto ``<body data-images-loaded=".." data-images-broken="..">`` (what the
headless-browser test reads), and mark a broken image's tile in red for a human reader.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Sequence

from dualinv.fileio import write_text_atomic

TileKind = Literal["image", "video", "link"]


@dataclass(frozen=True)
class Tile:
    """One shown output."""

    caption: str
    """Text under the tile."""
    href: str
    """Path relative to the page (forward slashes)."""
    kind: TileKind = "image"
    """``image`` (PNG/GIF), ``video`` (MP4, with controls, looping) or ``link`` (e.g. a mesh file)."""


@dataclass(frozen=True)
class Section:
    """A titled row of tiles."""

    title: str
    tiles: Sequence[Tile]


STYLE = """
body { font-family: sans-serif; margin: 1.5em; background: #fafafa; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
.banner { background: #fff3cd; border: 1px solid #e0c060; padding: 0.6em 1em; margin: 0.8em 0; }
.notes { color: #555; font-size: 0.9em; }
.row { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 1.2em; }
figure { margin: 0; background: #fff; border: 1px solid #ddd; padding: 6px; }
figure img, figure video { width: 256px; height: 256px; object-fit: contain; display: block; background: #eee; }
figure.broken { border: 2px solid #c00; }
figcaption { font-size: 0.85em; margin-top: 4px; max-width: 256px; }
"""

SCRIPT = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (image) { return !(image.complete && image.naturalWidth > 0); });
  broken.forEach(function (image) { image.parentNode.classList.add('broken'); });
  document.body.setAttribute('data-images-loaded', String(images.length - broken.length));
  document.body.setAttribute('data-images-broken', String(broken.length));
});
"""


def _tile_html(tile: Tile) -> str:
    href = html.escape(tile.href, quote=True)
    caption = html.escape(tile.caption)
    if tile.kind == "image":
        body = f'<a href="{href}"><img src="{href}" alt="{caption}"></a>'
    elif tile.kind == "video":
        body = f'<video src="{href}" controls loop muted playsinline></video>'
    elif tile.kind == "link":
        body = f'<a href="{href}">{html.escape(Path(tile.href).name)}</a>'
    else:
        raise ValueError(f"tile kind must be image, video or link, got {tile.kind!r}")
    return f"<figure>{body}<figcaption>{caption}</figcaption></figure>"


def index_html(title: str, sections: Sequence[Section], *, banner: str | None = None,
               notes: Sequence[str] = ()) -> str:
    """The page's text: a title, an optional warning banner (e.g. stand-in networks), notes, sections."""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{STYLE}</style>", f"<script>{SCRIPT}</script>",
             "</head><body>", f"<h1>{html.escape(title)}</h1>"]
    if banner:
        parts.append(f'<div class="banner" id="banner">{html.escape(banner)}</div>')
    parts += [f'<p class="notes">{html.escape(note)}</p>' for note in notes]
    for section in sections:
        tiles = "".join(_tile_html(tile) for tile in section.tiles)
        parts.append(f'<h2>{html.escape(section.title)}</h2><div class="row">{tiles}</div>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_index_html(path: str | Path, title: str, sections: Sequence[Section], *, banner: str | None = None,
                     notes: Sequence[str] = ()) -> Path:
    """Write :func:`index_html` atomically to ``path``; every link must point inside its folder."""
    path = Path(path)
    for section in sections:
        for tile in section.tiles:
            if tile.href.startswith(("/", "http:", "https:", "file:")) or ".." in Path(tile.href).parts:
                raise ValueError(f"index.html tiles must link relative to the page, got {tile.href!r}")
    write_text_atomic(path, index_html(title, sections, banner=banner, notes=notes))
    return path
