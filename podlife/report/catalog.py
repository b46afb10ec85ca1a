"""The claim catalog: every claim's ID, category and text, for the claims page.

The catalog is the project's own ``claims.md`` beside this module (``docs/claims.md`` in the
repository links to it). It is package data, so ``podlife report`` finds it wherever podlife is
installed, not only in an editable checkout; ``--claims`` reads another file instead.

The catalog is Markdown written for people: a ``## XX — Name`` heading per category and a
bullet per claim, ``- **XX-NN** text``, its text wrapped onto indented lines. The page lists
every claim of it, run or not, so a claim no scenario reached shows as a gap rather than not
at all.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

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


def packaged() -> AbstractContextManager[Path]:
    """The catalog shipped with podlife, as a file for the length of the ``with`` block.

    The report names the catalog's path on its page, so it takes a file rather than the text:
    where the package sits on disk that is the file itself, where it is imported from an
    archive a temporary copy.
    """
    return resources.as_file(resources.files("podlife.report").joinpath("claims.md"))
