"""The house's layers, checked: no room of ``podlife/`` imports a room above it.

Bottom to top (``docs/design.md``): the kernel types and defaults; the API verbs and the
cluster providers; how a Service is reached; observation; the scene; the workload builders;
the disruptions; the verdicts; the report; the pytest plugin and the command line. A name two
rooms need moves down to a room both may import. Imports inside functions count too, and so do
imports made only for type checking: a reader follows them the same way. pytest itself is the
plugin's and the report's alone (the rooms below raise podlife's errors, which the plugin
turns into pytest's outcomes).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import podlife

LAYERS = (
    ("podlife.errors", "podlife.kernel", "podlife.served", "podlife.waiting", "podlife.signals"),
    ("podlife.kube", "podlife.cluster"),
    ("podlife.access", "podlife.namespaces", "podlife.preflight"),
    ("podlife.observe",),
    ("podlife.scene",),
    ("podlife.workloads",),
    ("podlife.chaos",),
    ("podlife.verdicts",),
    ("podlife.report",),
    ("podlife.plugin", "podlife.provisioning", "podlife.guards", "podlife.cli", "podlife.schedule", "podlife"),
)
#: The rooms that may import pytest: the plugin's own, and the report's (a test's evidence lives on its item).
PYTEST_ROOMS = ("podlife.report", "podlife.plugin", "podlife.provisioning", "podlife.guards", "podlife.schedule")
ROOT = Path(podlife.__file__).parent


def layer(module: str) -> int:
    """The layer of ``module``: that of the longest room name it starts with."""
    rooms = [(len(room), i) for i, names in enumerate(LAYERS) for room in names
             if module == room or module.startswith(f"{room}.")]
    if not rooms:
        raise LookupError(f"{module} is in no layer: add its room to LAYERS")
    return max(rooms)[1]


def module_name(path: Path) -> str:
    return ".".join(("podlife", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")


def imports(tree: ast.AST) -> list[tuple[str, int]]:
    """Every module an AST imports, with its line (``from a import b`` counts as ``a.b`` where that is a module)."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(name if is_module(name := f"{node.module}.{alias.name}") else node.module, node.lineno)
                      for alias in node.names]
    return found


def is_module(name: str) -> bool:
    """Whether ``name`` is a module or package of podlife's (``podlife.kube`` in ``from podlife import kube``)."""
    parts = name.split(".")
    if parts[0] != "podlife":
        return False
    path = ROOT.joinpath(*parts[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def violations(module: str, tree: ast.AST) -> list[str]:
    """What ``module`` imports that its layer may not."""
    mine, found = layer(module), []
    for name, line in imports(tree):
        if name.startswith("podlife") and layer(name) > mine:
            found.append(f"{module}:{line} imports {name}, a room above it")
        if name.split(".")[0] == "pytest" and not module.startswith(PYTEST_ROOMS):
            found.append(f"{module}:{line} imports pytest")
    return found


def test_no_room_imports_a_room_above_it() -> None:
    found = [v for path in sorted(ROOT.rglob("*.py"))
             for v in violations(module_name(path), ast.parse(path.read_text(encoding="utf-8")))]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("source, expected", [
    ("from podlife.report.summary import Evidence", ["podlife.observe.window:1 imports podlife.report.summary, a room above it"]),
    ("import pytest", ["podlife.observe.window:1 imports pytest"]),
    ("def f():\n    from podlife.verdicts import traffic", ["podlife.observe.window:2 imports podlife.verdicts.traffic, a room above it"]),
    ("from podlife import scene", ["podlife.observe.window:1 imports podlife.scene, a room above it"]),
    ("from podlife.kernel.images import AGNHOST\nfrom podlife.observe.clock import now", []),
])
def test_the_contract_catches_an_upward_import(source: str, expected: list[str]) -> None:
    """The check's negative control: the upward imports this restructuring removed are caught."""
    assert violations("podlife.observe.window", ast.parse(source)) == expected


def test_every_module_has_a_layer() -> None:
    for path in ROOT.rglob("*.py"):
        layer(module_name(path))
