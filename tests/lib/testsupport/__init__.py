"""Helpers the test suites share: importable because pyproject.toml puts tests/lib on pytest's
`pythonpath` (test modules cannot import from conftest files under pytest's importlib import mode)."""
