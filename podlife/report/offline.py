"""Keeping a generated report page offline: it must never reach the internet when opened.

The generators inline everything a report needs into one HTML file (scripts, styles, fonts,
results and attachments as base64 ``data:`` payloads), but both also add Google Analytics, and
their bundles hold URLs of their own (a "Powered by" link, the Playwright trace viewer, link
templates for URLs found in test output). Two measures, each enough alone for what they cover:

- analytics and any script or stylesheet loaded from the network are cut out of the page;
- a Content-Security-Policy ``<meta>`` at the top of ``<head>`` lets the page load nothing but
  ``data:`` and ``blob:`` URLs: whatever a bundle might fetch, frame or show is refused by the
  browser before a connection is made. Only a link a reader clicks can still leave the page.

``references`` lists what URLs remain, inside the base64 payloads too (where ``grep`` cannot see
them), so the report can say what they are.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections import Counter
from dataclasses import dataclass

#: The page may load only what it carries; scripts may be inline (the bundles are) and may eval.
CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval' data: blob:; style-src 'unsafe-inline' data: blob:; "
       "img-src data: blob:; font-src data:; media-src data: blob:; connect-src data: blob:; "
       "frame-src data: blob:; worker-src data: blob:; form-action 'none'")
_ANALYTICS = re.compile(r"gtag\(|dataLayer|googletagmanager|google-analytics", re.I)
_SCRIPT = re.compile(r"<script\b(?P<attrs>[^>]*)>(?P<body>.*?)</script\s*>", re.S | re.I)
_LINK = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^>]*>", re.I)
_REMOTE = re.compile(r"\bsrc\s*=\s*[\"']?(?:https?:)?//", re.I)
_HEAD = re.compile(r"<head\b[^>]*>", re.I)
_BODY = re.compile(r"<body\b[^>]*>", re.I)
URL = re.compile(r"https?://[^\s\"'<>`\\)]+")
_DATA_URI = re.compile(r"data:(?P<type>[\w.+-]+/[\w.+-]+)(?:\s*;\s*[\w-]+=[\w.-]+)*\s*;\s*base64,(?P<data>[A-Za-z0-9+/=]+)")
#: A single-file report's results: ``d("widgets/tree.json", "<base64>")`` calls in its last script.
_PAYLOAD = re.compile(r"""\bd\(\s*["'](?P<type>[^"']+)["']\s*,\s*["'](?P<data>[A-Za-z0-9+/=]+)["']\s*\)""")
#: Identifiers of XML vocabularies and document types (SVG, XHTML, XLink, RDF, Dublin Core, Creative
#: Commons, Inkscape's): names in markup, never fetched (SVG images carry them in their metadata).
NAMESPACE = re.compile(r"^https?://(?:www\.w3\.org/|purl\.org/dc/|creativecommons\.org/ns|www\.inkscape\.org/namespaces/"
                       r"|sodipodi\.sourceforge\.net/DTD/)")


def neutralise(html: str, banner: str = "") -> str:
    """The page without analytics or remote scripts and stylesheets, under a CSP that allows only
    ``data:`` and ``blob:``; ``banner`` (HTML) is put first in ``<body>``."""

    def script(match: re.Match[str]) -> str:
        remote = _REMOTE.search(match["attrs"])
        return "" if remote or _ANALYTICS.search(match["body"]) else match[0]

    html = _LINK.sub("", _SCRIPT.sub(script, html))
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    html, found = _HEAD.subn(lambda m: m[0] + meta, html, count=1)
    if not found:
        raise ValueError("the generated page has no <head>")
    return _BODY.sub(lambda m: m[0] + banner, html, count=1) if banner else html


@dataclass(frozen=True)
class Reference:
    url: str
    where: str  # "page", or the media type or report file of the base64 payload it sits in
    count: int

    @property
    def namespace(self) -> bool:
        return bool(NAMESPACE.match(self.url))


def _decoded(data: str) -> str | None:
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None  # binary (an image, a font): it holds no URL a browser would follow


def references(html: str) -> list[Reference]:
    """Every http(s) URL in the page and in its base64 payloads, once per place, most frequent first."""
    found: Counter[tuple[str, str]] = Counter()
    outside = html
    for pattern in (_DATA_URI, _PAYLOAD):
        for match in pattern.finditer(html):
            text = _decoded(match["data"])
            found.update((url, match["type"]) for url in URL.findall(text or ""))
        outside = pattern.sub("", outside)
    found.update((url, "page") for url in URL.findall(outside))
    return [Reference(url, where, n) for (url, where), n in found.most_common()]


@dataclass(frozen=True)
class Remaining:
    """The URLs left in a page, as a reader weighs them."""

    names: int  # XML namespace and document type names, once per place they are found
    evidence: list[str]  # written in the tests' own attachments and results, as text
    generators: dict[str, list[str]]  # the generator's own, each with the payloads it sits in

    @classmethod
    def of(cls, refs: list[Reference]) -> Remaining:
        generators: dict[str, list[str]] = {}
        for ref in refs:
            if not ref.namespace and not ref.where.startswith("data/"):
                generators.setdefault(ref.url, []).append(ref.where)
        return cls(sum(r.count for r in refs if r.namespace),
                   sorted({r.url for r in refs if not r.namespace and r.where.startswith("data/")}), generators)


def tally(refs: list[Reference]) -> str:
    """The URLs left in the page in one line, for every report: how many of each kind ``describe`` lists."""
    left = Remaining.of(refs)
    return (f"URLs left in it: {left.names} XML namespace or document type name(s), {len(left.evidence)} in the "
            f"tests' own results, {len(left.generators)} of the generator's")


def describe(refs: list[Reference]) -> list[str]:
    """What remains, for the terminal: namespaces and the run's own evidence counted, the generator's URLs named."""
    left = Remaining.of(refs)
    lines = [f"{left.names} XML namespace or document type name(s) (www.w3.org, purl.org/dc, ...: identifiers, never "
             "fetched)"] if left.names else []
    if left.evidence:
        lines.append(f"{len(left.evidence)} URL(s) written in the tests' own attachments and results, as text "
                     f"(e.g. {', '.join(left.evidence[:2])})")
    lines += [f"{url} (in {', '.join(sorted(set(where)))})" for url, where in sorted(left.generators.items())]
    return lines
