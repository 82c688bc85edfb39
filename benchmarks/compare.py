"""``python -m benchmarks.compare REF [--preset P] [--steps N] [--pairs K]``: is the working
tree faster than git revision REF?

Shared machines change speed from minute to minute, so two versions timed one after the
other are not comparable. Here both run *at the same time*, each in its own process
pinned to its own core (swapping cores between pairs), so they meet the same conditions.
Each pair times the steps of one ``DiriskModel`` run of the preset (construction
excluded); the answer is the median over pairs of time(working tree) / time(REF), with
its range. Outputs of the two versions are not compared: see the tests for that.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Run in each process: build the preset's model, time its steps, print seconds.
PROBE = """
import json, sys, time
from sim.engine.model import DiriskModel
from sim.results.runner import with_steps
from sim.scenario import load_scenario
spec = with_steps(load_scenario(sys.argv[1]), int(sys.argv[2]))
model = DiriskModel(spec)
start = time.process_time()
for _ in range(spec.steps):
    model.step()
print(json.dumps(time.process_time() - start))
"""


def export(revision: str, into: Path) -> Path:
    """Write the ``sim`` package and scenarios of git ``revision`` under ``into``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, "sim", "scenarios"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def pair(trees: tuple[Path, Path], preset: str, steps: int, cores: tuple[int, int]) -> list[float]:
    """Step-time (CPU seconds) of both trees, run simultaneously on ``cores``."""
    procs = []
    for tree, core in zip(trees, cores, strict=True):
        env = dict(os.environ, PYTHONPATH=str(tree))
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    PROBE,
                    str(tree / "scenarios" / f"{preset}.yaml"),
                    str(steps),
                ],
                env=env,
                cwd=tree,
                stdout=subprocess.PIPE,
                text=True,
                preexec_fn=(lambda c=core: os.sched_setaffinity(0, {c}))
                if hasattr(os, "sched_setaffinity")
                else None,
            )
        )
    out = []
    for proc in procs:
        stdout, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark probe failed (exit {proc.returncode})")
        out.append(float(json.loads(stdout.strip().splitlines()[-1])))
    return out


def compare(revision: str, *, preset: str, steps: int, pairs: int) -> dict:
    """Median time ratio (working tree / ``revision``) over ``pairs`` simultaneous runs."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0, 1]
    cores = tuple((cores + cores)[:2])
    with tempfile.TemporaryDirectory() as tmp:
        trees = (ROOT, export(revision, Path(tmp)))
        swapped = (cores[1], cores[0])
        times = [pair(trees, preset, steps, swapped if k % 2 else cores) for k in range(pairs)]
    ratios = [new / old for new, old in times]
    return dict(
        revision=revision,
        preset=preset,
        steps=steps,
        pairs=pairs,
        working_tree_s=[t[0] for t in times],
        revision_s=[t[1] for t in times],
        ratio_median=statistics.median(ratios),
        ratio_range=[min(ratios), max(ratios)],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__)
    parser.add_argument("revision", help="git revision to compare the working tree with")
    parser.add_argument("--preset", default="baseline")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args(argv)
    result = compare(args.revision, preset=args.preset, steps=args.steps, pairs=args.pairs)
    low, high = result["ratio_range"]
    print(
        f"{args.preset}, {args.steps} steps, {args.pairs} simultaneous pairs: working tree / "
        f"{args.revision} = {result['ratio_median']:.3f} (range {low:.3f}-{high:.3f}); "
        f"median step time {statistics.median(result['working_tree_s']):.3f} s vs "
        f"{statistics.median(result['revision_s']):.3f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
