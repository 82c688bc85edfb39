"""The explorer's pages and their order: one list for the checkout's ``app.py`` and the
packaged ``sim/app/explorer.py`` (``dirisk app``)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

__all__ = ["PAGES", "run_explorer"]

#: (file in sim/app/pages/, title), in menu order; the first is the default page.
PAGES = (
    ("run.py", "Run"),
    ("watch.py", "Watch"),
    ("compare.py", "Compare"),
    ("why.py", "Why it leaks"),
    ("explore.py", "Explore sweeps"),
    ("robust.py", "Robustness"),
    ("optimize.py", "Policy search"),
    ("learn.py", "Learn"),
    ("export.py", "Export"),
)


def run_explorer(pages: Path) -> None:
    """Configure the page and run the navigation; ``pages`` is the pages folder relative
    to the main script (Streamlit resolves page paths against it)."""
    st.set_page_config(page_title="dirisk explorer", layout="wide")
    st.navigation(
        [
            st.Page(str(pages / name), title=title, default=index == 0)
            for index, (name, title) in enumerate(PAGES)
        ]
    ).run()
