"""Run one benchmark case in this (fresh) process and print its result as JSON.

``python -m benchmarks.worker CASE PARAMS_JSON``; used by ``python -m benchmarks`` so
that peak memory (``ru_maxrss``) belongs to one case alone.
"""

from __future__ import annotations

import json
import sys

from benchmarks import cases

CASES = {"large": cases.large_case, "day": cases.day_case}


def main(argv: list[str]) -> int:
    """Entry point."""
    case, params = argv[0], json.loads(argv[1])
    print(json.dumps(CASES[case](**params)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
