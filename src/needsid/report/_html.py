"""HTML building blocks of the run report: escaped tables, images, the page, the write."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from pathlib import Path

import pandas as pd

from .._io import write_atomic as _write_atomic

NOT_PROVIDED = "not provided"

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0 1em} caption{text-align:left;font-weight:600}
td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px;text-align:right}
td.text,th.text{text-align:left} th{background:#f3f3f3}
tr.fail td{background:#fbe3e3} tr.warn td{background:#fdf3d8} tr.pass td{background:#e7f4e7}
tr.context td{color:#666}
.missing{color:#777;font-style:italic} .note{color:#555;font-size:13px}
img{max-width:100%;height:auto;display:block;margin:.5em 0}
nav a{margin-right:1em}
"""

# Not needed to read the report: it lets a headless browser (and the test) check that
# every embedded image decoded, by writing the count to <body data-images-loaded="N">.
IMAGE_CHECK = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.dataset.imagesLoaded = String(ok.length);
  document.body.dataset.imagesTotal = String(imgs.length);
});
</script>"""


def esc(value: object) -> str:
    """Escape any value as HTML text (quotes included)."""
    return html.escape(str(value), quote=True)


def fmt_number(value: object, digits: int = 3) -> str:
    """Format a number for a table cell: integers as is, floats rounded, NaN as a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        return "-" if math.isnan(value) else f"{value:.{digits}f}"
    if isinstance(value, tuple):
        return " & ".join(str(v) for v in value)
    return str(value)


def fmt_interval(
    estimate: float | None, lo: float | None, hi: float | None, digits: int = 3
) -> str:
    """Format ``estimate (lo to hi)``; the interval is left out when it is missing."""
    point = fmt_number(estimate, digits)
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (lo, hi)):
        return point
    return f"{point} ({fmt_number(lo, digits)} to {fmt_number(hi, digits)})"


def table(
    frame: pd.DataFrame,
    *,
    caption: str | None = None,
    text_columns: Sequence[str] = (),
    row_class: Callable[[int], str] | None = None,
) -> str:
    """Render a frame as an HTML table, every header and cell escaped.

    Cells are formatted with :func:`fmt_number` unless they are already strings.
    ``row_class(i)`` gives a CSS class for row ``i`` (e.g. ``"fail"``).
    """
    head = "".join(
        f'<th class="{"text" if c in text_columns else "num"}">{esc(c)}</th>'
        for c in frame.columns
    )
    rows = []
    for i, values in enumerate(frame.itertuples(index=False, name=None)):
        cls = f' class="{esc(row_class(i))}"' if row_class is not None else ""
        cells = "".join(
            f'<td class="{"text" if c in text_columns else "num"}">'
            f"{esc(v if isinstance(v, str) else fmt_number(v))}</td>"
            for c, v in zip(frame.columns, values, strict=True)
        )
        rows.append(f"<tr{cls}>{cells}</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def image(png_base64: str, alt: str) -> str:
    """Embed a base64 PNG as a data URI image."""
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{png_base64}">'


def missing(what: str) -> str:
    """Say that an input was not provided, and what would fill the section."""
    return f'<p class="missing">{esc(NOT_PROVIDED)}: {esc(what)}</p>'


def note(text: str) -> str:
    """Wrap explanatory text in a small paragraph (escaped)."""
    return f'<p class="note">{esc(text)}</p>'


def section(section_id: str, heading: str, body: str) -> str:
    """Wrap a section's body with its stable id and heading."""
    return f'<section id="{esc(section_id)}">\n<h2>{esc(heading)}</h2>\n{body}\n</section>'


def page(title: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """Assemble the whole document from ``(id, heading, body)`` sections."""
    nav = " ".join(f'<a href="#{esc(sid)}">{esc(h)}</a>' for sid, h, _ in sections)
    body = "\n".join(section(sid, h, b) for sid, h, b in sections)
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>\n'
        f"<style>{CSS}</style>\n{IMAGE_CHECK}\n</head>\n<body>\n<h1>{esc(title)}</h1>\n"
        f"<nav>{nav}</nav>\n{body}\n</body></html>\n"
    )


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, then rename it into place."""
    # a report is meant to be shared: not mkstemp's owner-only mode
    _write_atomic(path, text, mode=0o644)
