"""Root conftest.

The podlife plugin itself is registered through its ``pytest11`` entry point once the package
is installed (``pip install -e .``). This file marks the repository root for pytest, so
``scenarios`` and ``tests`` import as packages from a fresh clone.
"""
