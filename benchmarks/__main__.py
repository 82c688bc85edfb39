"""``python -m benchmarks [--quick] [--json PATH]``: time the engine, print a table with
each target's PASS/MISS, and write every measurement as JSON.

Figures are medians of several repetitions. Ratios (scaling, engine vs reference) are
measured side by side in the same run. ``--quick`` uses one repetition and tiny sizes:
it checks that the harness works, and its numbers are not comparable with the targets.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import cases, compiled, protocols
from benchmarks.scenarios import PROTOCOL_MARKETS
from benchmarks.sweeps import sweep_case
from sim.results.runner import versions

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latest.json"

#: Sizes and repetitions of a full run and of a quick one.
CONFIGS: dict[str, dict[str, Any]] = {
    "full": dict(
        reps=5,
        reference_reps=3,
        baseline_steps=200,
        classroom_steps=None,
        large=dict(
            nodes=10_000,
            jurisdictions=50,
            requesters=500_000,
            requests=1_000_000,
            warmup=1,
            timed=5,
        ),
        scale_requests=dict(
            base=dict(nodes=10_000, jurisdictions=50),
            requests=[125_000, 250_000, 500_000, 1_000_000],
        ),
        scale_nodes=dict(
            base=dict(requests_per_step=500_000, requesters=250_000, jurisdictions=50),
            nodes=[2_500, 5_000, 10_000, 20_000],
        ),
        # Medians of 3 x 5 steps, each size in its own process 3 times, sizes in turn:
        # robust to a noisy minute.
        scale_timing=dict(warmup=1, timed=5, reps=3),
        reference=dict(preset="classroom_demo", steps=20),
        reference_baseline=dict(preset="baseline", steps=20),
        reference_large=dict(
            nodes=10_000, jurisdictions=50, requesters=500_000, requests=1_000_000, engine_steps=3
        ),
        reference_scale=dict(
            nodes=2_000, jurisdictions=10, requesters=100_000, requests_per_step=200_000, steps=3
        ),
        sweeps=dict(runs=1_000, steps=None, speedup_runs=200),
        # Every protocol and the adaptive presets against the static open baseline,
        # side by side: at the baseline's size (every day of the run) and at 1 M
        # requesters x 100 k nodes (a warm-up day, then two weeks: two revisions).
        # Seven rounds at baseline size (a round takes seconds; three spread too widely
        # on a shared machine), three at 1 M x 100 k (a round takes a minute).
        protocols=dict(rounds=7, warmup=0, timed=None, size=None),
        protocols_large=dict(
            rounds=3, warmup=1, timed=14, size=dict(requesters=1_000_000, nodes=100_000)
        ),
        # Doubling requests and nodes under each protocol (the open market above).
        scale_protocols=dict(reps=2, sizes=4),
        # 1 M x 100 k, p2p, nodes adapt and enter, jurisdictions revise their rules:
        # a warm-up day, then a month (a policy revision and four node revisions).
        p2p_policy=dict(size=dict(requesters=1_000_000, nodes=100_000), warmup=1, timed=30),
        # 10 M requesters x 1 M nodes, static.
        huge=dict(size=dict(requesters=10_000_000, nodes=1_000_000), warmup=1, timed=4),
        # A validators preset end to end: numba's import and compilation counted.
        compiled=dict(preset="protocol_self_governance", reps=3),
    ),
    "quick": dict(
        reps=1,
        reference_reps=1,
        baseline_steps=10,
        classroom_steps=5,
        large=dict(
            nodes=1_000, jurisdictions=10, requesters=20_000, requests=40_000, warmup=1, timed=2
        ),
        scale_requests=dict(
            base=dict(nodes=500, jurisdictions=10), requests=[5_000, 10_000, 20_000, 40_000]
        ),
        scale_nodes=dict(
            base=dict(requests_per_step=20_000, requesters=10_000, jurisdictions=10),
            nodes=[250, 500, 1_000, 2_000],
        ),
        scale_timing=dict(warmup=1, timed=1, reps=1),
        reference=dict(preset="classroom_demo", steps=3, requesters=1_000, nodes=100),
        reference_baseline=dict(preset="baseline", steps=2, requesters=3_000, nodes=300),
        reference_large=dict(
            nodes=500, jurisdictions=10, requesters=5_000, requests=10_000, engine_steps=1
        ),
        reference_scale=dict(
            nodes=200, jurisdictions=10, requesters=2_000, requests_per_step=4_000, steps=2
        ),
        sweeps=dict(runs=20, steps=5, speedup_runs=10),
        protocols=dict(rounds=1, warmup=1, timed=2, size=dict(requesters=2_000, nodes=200)),
        protocols_large=dict(rounds=1, warmup=1, timed=2, size=dict(requesters=5_000, nodes=500)),
        scale_protocols=dict(reps=1, sizes=2),
        p2p_policy=dict(size=dict(requesters=5_000, nodes=500), warmup=1, timed=2),
        huge=dict(size=dict(requesters=10_000, nodes=1_000), warmup=1, timed=2),
        compiled=dict(preset="classroom_demo", reps=1),
    ),
}


def measure(config: dict[str, Any], log=print) -> dict[str, Any]:
    """Run every case of ``config``; return the measurements."""
    reps = config["reps"]
    out: dict[str, Any] = {}
    log("start-up ...")
    out["startup"] = cases.startup(reps)
    log("baseline ...")
    out["baseline"] = cases.preset_case("baseline", steps=config["baseline_steps"], reps=reps)
    log("classroom_demo ...")
    classroom_steps = config["classroom_steps"] or cases.sized_preset("classroom_demo").steps
    out["classroom_demo"] = cases.preset_case("classroom_demo", steps=classroom_steps, reps=reps)
    log("large scenario (fresh process) ...")
    out["large"] = cases.run_worker("large", config["large"])
    log("scaling: requests ...")
    timing = config["scale_timing"]
    out["scaling_requests"] = cases.scaling(
        series="requests", **timing, sizes=_scaling_sizes(config, "scale_requests")
    )
    log("scaling: nodes ...")
    out["scaling_nodes"] = cases.scaling(
        series="nodes", **timing, sizes=_scaling_sizes(config, "scale_nodes")
    )
    log("recording cost ...")
    out["recording"] = cases.recording_case(
        "baseline", steps=config["baseline_steps"], reps=max(1, reps - 2)
    )
    log("engine vs reference ...")
    for key in ("reference", "reference_baseline"):
        spec = cases.sized_preset(**config[key])
        out[key] = cases.reference_case(spec, reps=config["reference_reps"])
    out["reference_scale"] = cases.reference_case(
        cases.large_scenario(**config["reference_scale"]), reps=1
    )
    big = dict(config["reference_large"])
    engine_steps = big.pop("engine_steps")
    requests = big.pop("requests")
    out["reference_large"] = cases.reference_step_case(
        cases.large_scenario(**big, requests_per_step=requests), engine_steps=engine_steps
    )
    log(f"sweeps: {config['sweeps']['runs']} classroom runs, then 1 vs 2 workers ...")
    out["sweeps"] = sweep_case(**config["sweeps"])
    log("protocols and adaptive presets against the open baseline, side by side ...")
    out["protocols"] = protocols.side_by_side(protocols.CASES, log=log, **config["protocols"])
    log("the same at 1 M requesters x 100 k nodes ...")
    out["protocols_large"] = protocols.side_by_side(
        protocols.CASES, log=log, **config["protocols_large"]
    )
    for name in ("gateway", "p2p", "validators"):
        market = PROTOCOL_MARKETS[name]
        for series, key in (("requests", "scale_requests"), ("nodes", "scale_nodes")):
            log(f"scaling: {series}, {name} ...")
            scale = config["scale_protocols"]
            out[f"scaling_{series}_{name}"] = cases.scaling(
                series=series,
                **dict(timing, reps=scale["reps"]),
                sizes=_scaling_sizes(config, key)[: scale["sizes"]],
                market=market,
            )
    log("compiled kernels end to end (fresh processes) ...")
    out["compiled"] = compiled.compiled_case(**config["compiled"])
    log("1 M x 100 k adaptive p2p with policy dynamics (fresh process) ...")
    p2p = config["p2p_policy"]
    out["p2p_policy"] = cases.run_worker(
        "day",
        dict(scenario={**P2P_POLICY, **p2p["size"]}, warmup=p2p["warmup"], timed=p2p["timed"]),
    )
    log("10 M requesters x 1 M nodes, static (fresh process) ...")
    huge = config["huge"]
    out["huge"] = cases.run_worker(
        "day",
        dict(
            scenario={"preset": "baseline", **huge["size"]},
            warmup=huge["warmup"],
            timed=huge["timed"],
        ),
    )
    return out


#: The adaptive p2p world with policy dynamics: global_treaty (treaties that grow, rules
#: that diffuse) with p2p discovery and nodes that revise and enter as in eu_ai_act.
P2P_POLICY: dict[str, Any] = {
    "preset": "global_treaty",
    "market": PROTOCOL_MARKETS["p2p"],
    "adaptation": {"enabled": True, "entry_rate": 0.01},
}


def _scaling_sizes(config: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The sizes of a scaling series of ``config`` (``scale_requests`` or ``scale_nodes``)."""
    spec = config[key]
    if key == "scale_requests":
        return [
            dict(spec["base"], requests_per_step=r, requesters=r // 2) for r in spec["requests"]
        ]
    return [dict(spec["base"], nodes=n) for n in spec["nodes"]]


def targets(m: dict[str, Any], *, quick: bool) -> list[dict[str, Any]]:
    """Each target with its measured value and PASS / MISS ("n/a" in quick runs)."""
    large = m["large"]
    rows = [
        ("baseline: 200 steps end to end (sim.run), s", m["baseline"]["end_to_end_s"], "<", 1.0),
        (
            "classroom_demo / baseline end-to-end time",
            m["classroom_demo"]["end_to_end_s"] / m["baseline"]["end_to_end_s"],
            "<",
            1.0,
        ),
        (
            "large: requests/s per core (lower of wall, CPU)",
            min(large["requests_per_s"], large["requests_per_cpu_s"]),
            ">=",
            2.5e6,
        ),
        ("large: requests/s (wall), floor", large["requests_per_s"], ">=", 1.0e6),
        ("large: peak memory (maxrss), MB", large["peak_rss_mb"], "<", 2048.0),
        ("scaling x2 requests: worst time ratio", m["scaling_requests"]["max_ratio"], "<=", 2.2),
        ("scaling x2 nodes: worst time ratio", m["scaling_nodes"]["max_ratio"], "<=", 2.2),
        ("recording share of step time (baseline)", m["recording"]["record_share"], "<=", 0.10),
        ("recording share of step time (large)", large["record_share"], "<=", 0.10),
        (
            "engine / reference speed-up per step (large scenario)",
            m["reference_large"]["speedup"],
            ">=",
            50.0,
        ),
        ("sweep: 1,000 classroom runs on 2 workers, s", m["sweeps"]["long"]["wall_s"], "<", 300.0),
        ("sweep: speed-up from 1 to 2 workers", m["sweeps"]["speedup_1_to_2"], ">=", 1.7),
        (
            "sweep: worst worker memory growth over the sweep, MB",
            m["sweeps"]["long"]["memory"]["max_growth_mb"],
            "<",
            50.0,
        ),
        (
            "sweep: classroom runs per second on 2 workers",
            m["sweeps"]["long"]["runs_per_s"],
            ">=",
            25.0,
        ),
    ]
    for key, size in (("protocols", "baseline size"), ("protocols_large", "1 M x 100 k")):
        for name, row in m[key]["cases"].items():
            rows.append((f"day / open baseline's, {size}: {name}", row["ratio"], "<=", 1.5))
    for name in ("gateway", "p2p", "validators"):
        for series in ("requests", "nodes"):
            rows.append(
                (
                    f"scaling x2 {series}: worst time ratio, {name}",
                    m[f"scaling_{series}_{name}"]["max_ratio"],
                    "<=",
                    2.2,
                )
            )
    p2p, huge = m["p2p_policy"], m["huge"]
    rows += [
        ("1 M x 100 k adaptive p2p with policy dynamics: s per day", p2p["day_s"], "<=", 0.2),
        (
            "1 M x 100 k adaptive p2p with policy dynamics: peak memory, MB",
            p2p["peak_rss_mb"],
            "<",
            1024.0,
        ),
        ("10 M x 1 M static: s per day", huge["day_s"], "<=", 1.0),
        ("10 M x 1 M static: peak memory, MB", huge["peak_rss_mb"], "<", 2048.0),
        ("10 M x 1 M static: set-up (model construction), s", huge["build_s"], "<=", 3.0),
    ]
    out = []
    for name, value, op, threshold in rows:
        ok = {"<": value < threshold, "<=": value <= threshold, ">=": value >= threshold}[op]
        status = "n/a" if quick else ("PASS" if ok else "MISS")
        out.append(dict(name=name, measured=value, op=op, target=threshold, status=status))
    return out


# --------------------------------------------------------------------------- output


def _num(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, int):
        return f"{x:,}"
    ax = abs(x)
    if ax >= 1e6:
        return f"{x / 1e6:,.2f} M"
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def report(result: dict[str, Any]) -> str:
    """The human-readable table."""
    m = result["measurements"]
    lines = []
    meta = result["meta"]
    lines.append(
        f"dirisk benchmarks ({'QUICK: tiny sizes, 1 rep' if meta['quick'] else 'full'})"
        f" - {meta['timestamp']}"
    )
    lines.append(
        f"python {meta['versions']['python']}, numpy {meta['versions']['numpy']}, "
        f"mesa {meta['versions']['mesa']}; {meta['cpu']}; "
        f"{meta['cpus_available']} CPU(s) available; load average before/after "
        f"{meta['load_average_before']} / {meta['load_average_after']}"
    )
    s = m["startup"]
    lines.append("")
    lines.append(
        f"start-up: interpreter {_num(s['interpreter_s'])} s; interpreter + import sim "
        f"{_num(s['interpreter_plus_import_sim_s'])} s (import sim alone "
        f"{_num(s['import_sim_s'])} s)"
    )
    lines.append("")
    head = (
        f"{'case':<24}{'requesters':>11}{'nodes':>8}{'J':>4}{'steps':>7}{'total s':>9}"
        f"{'build s':>9}{'steps s':>9}{'ms/step':>9}{'req/s':>11}{'att/s':>11}"
        f"{'agent-st/s':>12}{'mem MB':>9}"
    )
    lines.append(head)
    lines.append("-" * len(head))
    for key in ("baseline", "classroom_demo"):
        c = m[key]
        sc = c["scenario"]
        lines.append(
            f"{key:<24}{sc['requesters']:>11,}{sc['nodes']:>8,}{sc['jurisdictions']:>4}"
            f"{sc['steps']:>7}{_num(c['end_to_end_s']):>9}{_num(c['build_s']):>9}"
            f"{_num(c['steps_s']):>9}{_num(c['step_ms']):>9}{_num(c['requests_per_s']):>11}"
            f"{_num(c['attempts_per_s']):>11}{_num(c['agent_steps_per_s']):>12}"
            f"{_num(c['traced_peak_mb']):>9}"
        )
    c = m["large"]
    sc = c["scenario"]
    lines.append(
        f"{'large (per step)':<24}{sc['requesters']:>11,}{sc['nodes']:>8,}{sc['jurisdictions']:>4}"
        f"{c['timed_steps']:>7}{'':>9}{_num(c['build_s']):>9}{_num(c['step_s']):>9}"
        f"{_num(1000 * c['step_s']):>9}{_num(c['requests_per_s']):>11}"
        f"{_num(c['attempts_per_s']):>11}{_num(c['agent_steps_per_s']):>12}"
        f"{_num(c['peak_rss_mb']):>9}"
    )
    lines.append(
        "  (mem MB: tracemalloc peak for the presets; process maxrss for the large case,"
        " run in a fresh process)"
    )
    lines.append(
        f"  large: {_num(c['emitted_per_step'])} requests and "
        f"{_num(c['attempts_per_step'])} attempts per step; "
        f"{_num(c['requests_per_cpu_s'])} requests per CPU-second"
    )
    phases = c["phases_s"]
    total = c["step_total_s"]
    lines.append(
        "  large step phases: "
        + ", ".join(
            f"{k} {100 * v / total:.0f}%" for k, v in sorted(phases.items(), key=lambda kv: -kv[1])
        )
    )
    for key in ("scaling_requests", "scaling_nodes"):
        c = m[key]
        lines.append("")
        label = "requests/step" if c["series"] == "requests" else "nodes"
        lines.append(f"scaling, doubling {c['series']}:")
        for row in c["rows"]:
            size = row["size"]
            x = size["requests_per_step"] if c["series"] == "requests" else size["nodes"]
            lines.append(
                f"  {label} {x:>11,}: {1000 * row['step_s']:8.1f} ms/step, "
                f"{_num(row['requests_per_s'])} req/s"
            )
        lines.append("  time ratios: " + ", ".join(f"{r:.2f}x" for r in c["ratios"]))
    r = m["recording"]
    lines.append("")
    lines.append(
        "baseline step phases (share of step time): "
        + ", ".join(
            f"{k} {100 * v:.1f}%"
            for k, v in sorted(r["phase_shares"].items(), key=lambda kv: -kv[1])
        )
    )
    for key in ("reference", "reference_baseline", "reference_scale"):
        c = m[key]
        sc = c["scenario"]
        lines.append(
            f"engine vs reference, {sc['requesters']:,} requesters / {sc['nodes']:,} nodes / "
            f"{sc['steps']} steps: engine {_num(c['engine_s'])} s, reference "
            f"{_num(c['reference_s'])} s -> {c['speedup']:.1f}x (requests/s: engine "
            f"{_num(c['engine_requests_per_s'])}, reference {_num(c['reference_requests_per_s'])})"
        )
    c = m["reference_large"]
    sc = c["scenario"]
    lines.append(
        f"engine vs reference per step, {sc['requesters']:,} requesters / {sc['nodes']:,} nodes "
        f"(construction excluded: engine {_num(c['engine_build_s'])} s, reference "
        f"{_num(c['reference_build_s'])} s): engine {_num(c['engine_step_s'])} s, reference "
        f"{_num(c['reference_step_s'])} s -> {c['speedup']:.1f}x (requests/s: engine "
        f"{_num(c['engine_requests_per_s'])}, reference {_num(c['reference_requests_per_s'])})"
    )
    lines.append(
        "  (at small sizes the engine's fixed per-step cost of ~100 numpy calls "
        "dominates, so whole-run ratios there are lower)"
    )
    c = m["sweeps"]
    mem = c["long"]["memory"]
    lines.append("")
    lines.append(
        f"sweep of {c['long']['runs']:,} classroom runs on 2 workers: "
        f"{_num(c['long']['wall_s'])} s ({_num(c['long']['runs_per_s'])} runs/s); "
        f"{c['one_worker']['runs']} runs on 1 worker {_num(c['one_worker']['wall_s'])} s, "
        f"on 2 workers {_num(c['two_workers']['wall_s'])} s -> {c['speedup_1_to_2']:.2f}x"
    )
    lines.append(
        f"  worker memory from run {mem['start_runs']} to {mem['end_runs']}: "
        f"{', '.join(_num(x) for x in mem['start_rss_mb'])} -> "
        f"{', '.join(_num(x) for x in mem['end_rss_mb'])} MB "
        f"(worst growth {_num(mem['max_growth_mb'])} MB)"
    )
    for key, label in (
        ("protocols", "baseline size"),
        ("protocols_large", "1 M requesters x 100 k nodes"),
    ):
        lines.append("")
        lines.append(f"time per day against the static open baseline, side by side, {label}:")
        for name, row in m[key]["cases"].items():
            own = row["protocol_ratio"]
            lines.append(
                f"  {name:<26} {1000 * row['day_cpu_s']:8.1f} ms/day vs "
                f"{1000 * row['base_day_cpu_s']:8.1f} -> {row['ratio']:.2f}x "
                f"(rounds: {', '.join(f'{r:.2f}' for r in row['ratios'])})"
                + (
                    f"; its protocol's daily work alone {own:.2f}x the open day"
                    if own >= 0.01
                    else ""
                )
            )
    lines.append("")
    lines.append("scaling by protocol (worst time ratio per doubling):")
    for name in ("open", "gateway", "p2p", "validators"):
        req = m["scaling_requests" if name == "open" else f"scaling_requests_{name}"]
        nod = m["scaling_nodes" if name == "open" else f"scaling_nodes_{name}"]
        lines.append(
            f"  {name:<11} requests {', '.join(f'{r:.2f}x' for r in req['ratios'])}; "
            f"nodes {', '.join(f'{r:.2f}x' for r in nod['ratios'])}"
        )
    c = m["compiled"]
    lines.append("")
    lines.append(
        f"{c['preset']} end to end in a fresh process (s: import dirisk, load the kernels, "
        "run; the whole process):"
    )
    for key, label in (
        ("cold", "compiled, empty cache"),
        ("warm", "compiled, warm cache"),
        ("numpy", "numpy twins"),
    ):
        r = c[key]
        lines.append(
            f"  {label:<22} {_num(r['import_s']):>6} {_num(r['kernels_s']):>6} "
            f"{_num(r['run_s']):>6} {_num(r['wall_s']):>6}"
        )
    for key, label in (("p2p_policy", "adaptive p2p with policy dynamics"), ("huge", "static")):
        c = m[key]
        sc = c["scenario"]
        lines.append(
            f"{label}, {sc['requesters']:,} requesters x {sc['nodes']:,} nodes: set-up "
            f"{_num(c['build_s'])} s, {_num(c['day_s'])} s per day (CPU {_num(c['day_cpu_s'])} s) "
            f"over {c['timed_steps']} days, peak memory {_num(c['peak_rss_mb'])} MB"
        )
    lines.append("")
    lines.append("targets:")
    for t in result["targets"]:
        lines.append(
            f"  [{t['status']:>4}] {t['name']:<66} {_num(t['measured']):>10}  "
            f"(target {t['op']} {_num(t['target'])})"
        )
    return "\n".join(lines)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=cases.ROOT,
            check=True,
            timeout=10,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def _load() -> list[float] | None:
    """1-, 5- and 15-minute load averages (other processes compete for the CPUs)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _plain(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def run(*, quick: bool, json_path: Path, log=print) -> dict[str, Any]:
    """Measure, write the JSON file, and return the result."""
    config = CONFIGS["quick" if quick else "full"]
    started = datetime.now(UTC).isoformat(timespec="seconds")
    load_before = _load()
    t0 = time.perf_counter()
    measurements = measure(config, log=log)
    result = dict(
        meta=dict(
            timestamp=started,
            quick=quick,
            load_average_before=load_before,
            load_average_after=_load(),
            command=" ".join([Path(sys.executable).name, "-m", "benchmarks", *sys.argv[1:]]),
            platform=platform.platform(),
            cpu=_cpu_name(),
            git_commit=_git_commit(),
            versions=versions() | {"numpy": cases.numpy_info()["numpy"]},
            cpus_available=cases.numpy_info()["cpus_available"],
            config=config,
            harness_seconds=None,
        ),
        measurements=measurements,
        targets=targets(measurements, quick=quick),
    )
    result["meta"]["harness_seconds"] = time.perf_counter() - t0
    result = _plain(result)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one repetition, tiny sizes (checks the harness; not comparable with the targets)",
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=DEFAULT_JSON,
        metavar="PATH",
        help=f"where to write the results (default: {DEFAULT_JSON})",
    )
    args = parser.parse_args(argv)
    result = run(
        quick=args.quick,
        json_path=args.json,
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(report(result))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
