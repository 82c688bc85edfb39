"""The Streamlit explorer: thin pages over the same Python API as the CLI."""

from pathlib import Path

__all__ = ["explorer_path"]


def explorer_path() -> Path:
    """The explorer's main script inside the installed package (``dirisk app`` runs it)."""
    return Path(__file__).resolve().parent / "explorer.py"
