"""One real Chromium for the whole test session (Playwright driving Debian's
``chromium`` package: Playwright cannot download its own browsers here).

Screenshots go to ``test-artifacts/screenshots/`` (or $DIALER_TEST_ARTIFACTS):
each page the browser tests visit is saved there to be looked at.
"""

from __future__ import annotations

import os
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("DIALER_TEST_ARTIFACTS", REPO / "test-artifacts")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


#: WCAG 2.1 contrast (1.4.3, level AA) of every visible text node on the page,
#: against the first opaque background behind it: 4.5:1, or 3:1 for large text
#: (24 px, or 18.66 px bold). Returns the failures as "ratio text (color on bg)".
_CONTRAST_JS = """() => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const failures = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (!text || !el || !el.checkVisibility || !el.checkVisibility()) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.left < -100) continue;  // off-screen skip link
    const style = getComputedStyle(el);
    const fg = rgb(style.color).slice(0, 3), bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    const shown = JSON.stringify(text.slice(0, 40));
    if (ratio < needed) failures.push(`${ratio.toFixed(2)} ${shown} (${style.color} on ${bg})`);
  }
  return failures;
}"""


def contrast_failures(page: object) -> list[str]:
    """Texts on ``page`` (a Playwright page) below WCAG AA contrast."""
    failures: list[str] = page.evaluate(_CONTRAST_JS)  # type: ignore[attr-defined]
    return failures
