"""A small SVG chart of measured restart delays against the expected back-off curve.

SVG keeps the report free of plotting dependencies; Allure shows it inline.
"""

from __future__ import annotations

from typing import Sequence

WIDTH, HEIGHT, MARGIN = 640, 360, 50


def backoff_chart(expected: Sequence[tuple[int, float, float, float]], measured: Sequence[tuple[int, float]],
                  title: str) -> str:
    """``expected``: (restart, low, expected, high); ``measured``: (restart, delay). Restarts on x, seconds on y."""
    xs = [e[0] for e in expected] + [m[0] for m in measured]
    top = max([e[3] for e in expected] + [m[1] for m in measured] + [1.0]) * 1.1
    first, last = min(xs), max(xs)

    def x(restart: float) -> float:
        return MARGIN + (restart - first) / max(1, last - first) * (WIDTH - 2 * MARGIN)

    def y(seconds: float) -> float:
        return HEIGHT - MARGIN - seconds / top * (HEIGHT - 2 * MARGIN)

    band = [f"{x(r):.1f},{y(hi):.1f}" for r, _, _, hi in expected] + [f"{x(r):.1f},{y(lo):.1f}" for r, lo, _, _ in reversed(expected)]
    curve = " ".join(f"{x(r):.1f},{y(e):.1f}" for r, _, e, _ in expected)
    dots = "".join(f'<circle cx="{x(r):.1f}" cy="{y(d):.1f}" r="4" fill="#c0392b"><title>restart {r}: {d:.1f}s</title></circle>'
                   for r, d in measured)
    ticks = "".join(f'<text x="{x(r):.1f}" y="{HEIGHT - MARGIN + 16}" font-size="11" text-anchor="middle">{r}</text>'
                    for r in sorted(set(xs)))
    yticks = "".join(f'<text x="{MARGIN - 6}" y="{y(v):.1f}" font-size="11" text-anchor="end">{v:.0f}s</text>'
                     for v in (0, top / 2, top / 1.1))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif">'
        f'<text x="{WIDTH / 2}" y="20" font-size="14" text-anchor="middle">{title}</text>'
        f'<polygon points="{" ".join(band)}" fill="#aed6f1" opacity="0.6"><title>allowed window</title></polygon>'
        f'<polyline points="{curve}" fill="none" stroke="#1f618d" stroke-width="2"/>'
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" y2="{HEIGHT - MARGIN}" stroke="black"/>'
        f'<line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{HEIGHT - MARGIN}" stroke="black"/>'
        f'{ticks}{yticks}{dots}'
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 12}" font-size="12" text-anchor="middle">restart number '
        f'(blue: expected delay and allowed window; red: measured)</text></svg>'
    )
