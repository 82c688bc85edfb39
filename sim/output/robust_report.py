"""Report of a robustness analysis (``dirisk report ROBUST_DIR``): each policy's effect
across futures, how often it holds and what it costs, its regret, and the boxes of
futures where it fails."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from sim.analysis.robustness import Robustness, robustness_of
from sim.common.files import atomic_write_text
from sim.output.report import STYLES, figure_section, html_page, save_figure
from sim.results.outcomes import OUTCOMES

__all__ = ["effects_figure", "make_robust_report"]


def effects_figure(result: Robustness, out: Path) -> str:
    """Box plots of each policy's per-future effect on every outcome (PNG and SVG);
    returns the PNG's file name."""
    effects = result.effects.groupby(["policy", "outcome", "future"])["effect"].mean()
    outcomes = list(dict.fromkeys(result.effects["outcome"]))
    policies = list(dict.fromkeys(result.effects["policy"]))
    fig = Figure(figsize=(4.2 * len(outcomes) / 2 + 2, 7))
    axes = fig.subplots(2, (len(outcomes) + 1) // 2, squeeze=False).ravel()
    for ax, name in zip(axes, outcomes, strict=False):
        spec = OUTCOMES[name]
        scale = 100 if spec.unit == "share" else 1
        data = [scale * effects.loc[(p, name)].to_numpy(dtype=float) for p in policies]
        parts = ax.boxplot(data, orientation="horizontal", patch_artist=True, widths=0.6)
        for patch, style in zip(parts["boxes"], STYLES, strict=False):
            patch.set_facecolor(style["color"])
            patch.set_alpha(0.5)
        ax.axvline(0, color="black", linewidth=0.7)
        ax.set_yticks(np.arange(1, len(policies) + 1), policies, fontsize=8)
        unit = "percentage points" if spec.unit == "share" else spec.unit
        ax.set_xlabel(f"effect on {spec.label} ({unit})", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    for ax in axes[len(outcomes) :]:
        ax.set_visible(False)
    title = f"Effects against {result.base} across {len(result.futures)} futures"
    save_figure(fig, title, "effects", out)
    return "effects.png"


def make_robust_report(root: Path, out: Path) -> Path:
    """Write report.html for a robustness folder."""
    result = robustness_of(root)
    out.mkdir(parents=True, exist_ok=True)
    png = effects_figure(result, out)
    holds = result.summary[result.summary["outcome"] == "harmful_completed"][
        ["policy", "holds_share", "costly_share"]
    ]
    body = (
        f"<p>{len(result.futures)} futures drawn by Latin hypercube over the uncertainty "
        f"catalogue; every policy and the base {html.escape(result.base)} run in each with "
        "the same seeds. A policy holds in a future when harmful requests completed fall "
        "by at least the harm threshold; it is costly there when over-refusal of benign or "
        "dual-use users rises by more than the cost threshold.</p>"
        + figure_section("Effects across futures", png, out)
        + "<h2>How often each policy holds</h2>"
        + holds.to_html(index=False, float_format=lambda v: f"{v:.0%}")
        + "<h2>Regret (harmful requests completed)</h2>"
        + result.regret.to_html(index=False, float_format=lambda v: f"{v:,.3g}")
        + "<h2>Where each policy fails</h2>"
        + result.boxes.to_html(index=False, float_format=lambda v: f"{v:.2f}")
        + "<h2>Effects in numbers</h2>"
        + result.summary.to_html(index=False, float_format=lambda v: f"{v:,.4g}")
    )
    path = out / "report.html"
    atomic_write_text(path, html_page(f"dirisk robustness: {result.base}", body))
    return path
