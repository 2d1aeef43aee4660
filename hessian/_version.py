"""The library version (one place; also in pyproject.toml)."""

__version__ = "0.1.0"
