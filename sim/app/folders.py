"""Choosing a folder written by a dirisk command on a page: a text box confined to the
explorer's roots (:func:`sim.app.controls.sweep_roots`), then a choice among the folders of
that kind found there or one level below."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from sim.app.controls import find_folders
from sim.experiments.folder import SweepError

__all__ = ["choose_folder"]


def choose_folder(
    label: str,
    default: str,
    *,
    marker: str,
    what: str,
    command: str,
    choice: str,
    key: str,
    choice_key: str,
) -> str:
    """The folder the user chose, or stop the page with why there is none.

    Args:
        label: The text box's label.
        default: Its first value (a folder relative to the working directory).
        marker: The file that marks a folder of the kind (``robust.json``).
        what: The kind, for messages (``robustness folder``).
        command: The command that makes one (``dirisk robust``).
        choice: Label of the choice among the folders found.
        key: The text box's widget key.
        choice_key: The choice's widget key.

    Stops the page with an info box when the default folder does not exist yet, and
    with an error when the folder is outside the roots, unreadable or holds none.
    """
    base = st.text_input(label, default, key=key)
    if base == default and not Path(base).exists():
        st.info(
            f"No {what} yet in {Path(base).resolve()}: make one with {command}, or type "
            "another folder."
        )
        st.stop()
    try:
        found = find_folders(base, marker, what, command)
    except SweepError as exc:
        st.error(str(exc))
        st.stop()
    return str(st.selectbox(choice, [str(p) for p in found], key=choice_key))
