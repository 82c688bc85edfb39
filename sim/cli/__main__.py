"""``python -m sim.cli``: the ``dirisk`` command."""

from sim.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
