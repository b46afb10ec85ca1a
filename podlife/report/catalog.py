"""The claim catalog (``../shared/claims.md``): every claim's ID, category and text, for the claims page.

The catalog is Markdown written for people: a ``## XX — Name`` heading per category and a
bullet per claim, ``- **XX-NN** text``, its text wrapped onto indented lines. The page lists
every claim of it, run or not, so a claim no scenario reached shows as a gap rather than not
at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

#: Where the catalog sits relative to the repository the report is made in (it ships beside it).
DEFAULT_PATH = Path("../shared/claims.md")

_CATEGORY = re.compile(r"^##\s+(?P<prefix>[A-Z]+)\s+[—–-]+\s+(?P<name>.+?)\s*$")
_CLAIM = re.compile(r"^-\s+\*\*(?P<id>[A-Z]+-\d+)\*\*\s*(?P<text>.*)$")


@dataclass(frozen=True)
class Claim:
    id: str
    text: str

    @property
    def category(self) -> str:
        """``LC`` of ``LC-04``: claims are filed by the prefix of their ID."""
        return category_of(self.id)


@dataclass(frozen=True)
class Catalog:
    """Categories (prefix -> name) and claims in the catalog's order."""

    categories: dict[str, str] = field(default_factory=dict)
    claims: dict[str, Claim] = field(default_factory=dict)


def category_of(claim_id: str) -> str:
    return claim_id.split("-", 1)[0]


def parse(text: str) -> Catalog:
    """Read the catalog's headings and claim bullets; any other line ends the claim before it."""
    catalog = Catalog()
    current: list[str] | None = None
    current_id = ""

    def close() -> None:
        if current is not None:
            catalog.claims[current_id] = Claim(current_id, " ".join(current).strip())

    for line in text.splitlines():
        if heading := _CATEGORY.match(line):
            close()
            current = None
            catalog.categories[heading["prefix"]] = heading["name"]
        elif bullet := _CLAIM.match(line):
            close()
            current, current_id = [bullet["text"].strip()], bullet["id"]
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            current.append(line.strip())
        else:
            close()
            current = None
    close()
    return catalog


def load(path: Path) -> Catalog | None:
    """The catalog at ``path``, or None when there is none there (the page then says so)."""
    try:
        return parse(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
