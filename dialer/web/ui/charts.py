"""Charts as server-rendered SVG (no JavaScript, no build step): pure functions
from counts to markup, readable on a phone (the SVG scales to its container)
and to screen readers (a title, and each bar labelled with its figure)."""

from __future__ import annotations

from markupsafe import Markup, escape

#: outcome colours: calm for done, warm for not reached, red for refusals
COLOURS = {
    "completed": "#2e7d32",
    "opted-out": "#6a1b9a",
    "wrong-number": "#8d6e63",
    "busy": "#ef6c00",
    "no-answer": "#f9a825",
    "failed": "#c62828",
    "blocked": "#455a64",
    "interrupted": "#5d4037",
    "interrupted-by-shutdown": "#5d4037",
    "interrupted-by-pbx": "#5d4037",
    "not-placed": "#90a4ae",
    "in-progress": "#1565c0",
    "pending": "#cfd8dc",
}
DEFAULT_COLOUR = "#607d8b"
BAR_HEIGHT = 26
GAP = 8
LABEL_WIDTH = 150
CHART_WIDTH = 560


def bar_chart(counts: dict[str, int], title: str) -> Markup:
    """Horizontal bars, largest first; an empty chart says so."""
    items = sorted(((k, v) for k, v in counts.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
    if not items:
        return Markup('<p class="muted">No data yet.</p>')
    peak = max(v for _, v in items)
    bar_space = CHART_WIDTH - LABEL_WIDTH - 60
    height = len(items) * (BAR_HEIGHT + GAP) + GAP
    parts = [
        f'<svg class="chart" viewBox="0 0 {CHART_WIDTH} {height}" role="img" '
        f'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
    ]
    for i, (label, value) in enumerate(items):
        y = GAP + i * (BAR_HEIGHT + GAP)
        width = max(2, round(bar_space * value / peak))
        colour = COLOURS.get(label, DEFAULT_COLOUR)
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT * 0.7:.0f}" text-anchor="end" '
            f'class="chart-label">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT}" rx="3" '
            f'fill="{colour}"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{LABEL_WIDTH + width + 6}" y="{y + BAR_HEIGHT * 0.7:.0f}" '
            f'class="chart-value">{value}</text>'
        )
    parts.append("</svg>")
    # every interpolated text went through escape() above
    return Markup("".join(parts))  # noqa: S704
