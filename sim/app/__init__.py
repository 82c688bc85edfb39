"""The Streamlit explorer: thin pages over the same Python API as the CLI."""

__all__: list[str] = []
