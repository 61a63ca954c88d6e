"""Sizing charts as inline SVG (matplotlib, Agg): profit, contribution and cost per headcount with the
recommended headcount and the near-best range marked; marginal profit of the last rep; effort per segment.

Text is drawn as paths (``svg.fonttype: path``), so no user string reaches the page as markup, and
``$`` is escaped so that matplotlib never reads a segment name as math. The SVG is deterministic
(no date, fixed hash salt).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from optimizer.sizing.recommendation import Recommendation, effort_column

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "path", "svg.hashsalt": "territory-optimizer", "font.size": 9})
    return plt


def plain(label: object) -> str:
    """A label matplotlib draws literally (no mathtext)."""
    return str(label).replace("\\", "\\\\").replace("$", r"\$")


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _mark(ax, rec: Recommendation) -> None:
    low, high = rec.near_range
    ax.axvspan(low - 0.5, high + 0.5, color="#2ca02c", alpha=0.12, lw=0,
               label=f"within {rec.share:.0%} of best ({low}-{high})")
    ax.axvline(rec.headcount, color="#2ca02c", lw=1.5, ls="--", label=f"recommended: {rec.headcount}")


def profit_svg(table: pd.DataFrame, rec: Recommendation, currency: str) -> str:
    """Profit, contribution and cost per headcount (top) and marginal profit of the last rep (bottom)."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6.2), sharex=True, height_ratios=(2, 1))
    n = table["headcount"].to_numpy()
    scale, suffix = _scale(table[["contribution", "cost", "profit"]].abs().to_numpy().max())
    for column, colour, label in (("contribution", "#1f77b4", "contribution (margin x sales)"),
                                  ("cost", "#d62728", "rep cost"), ("profit", "#000000", "profit")):
        top.plot(n, table[column] / scale, color=colour, lw=1.6 if column == "profit" else 1.1, label=label)
    _mark(top, rec)
    top.set_ylabel(plain(f"{currency} {suffix} per year"))
    top.legend(loc="best", fontsize=8, frameon=False)
    top.grid(alpha=0.3)
    bottom.bar(n, table["marginal_profit"] / scale, color=np.where(table["marginal_profit"] >= 0, "#2ca02c",
                                                                    "#d62728"), width=0.9)
    bottom.axhline(0, color="black", lw=0.6)
    _mark(bottom, rec)
    bottom.set_ylabel(plain(f"marginal profit, {currency} {suffix}"))
    bottom.set_xlabel("headcount (reps)")
    bottom.grid(alpha=0.3)
    svg = _svg(fig)
    plt.close(fig)
    return svg


def effort_svg(table: pd.DataFrame, segment_ids: list[str], names: list[str], rec: Recommendation,
               effort_unit: str) -> str:
    """Stacked effort per segment against headcount."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    n = table["headcount"].to_numpy()
    stack = np.vstack([table[effort_column(s)].to_numpy(float) for s in segment_ids])
    colours = [COLOURS[k % len(COLOURS)] for k in range(len(segment_ids))]
    ax.stackplot(n, stack, labels=[plain(name) for name in names], colors=colours, alpha=0.85)
    ax.axvline(rec.headcount, color="black", lw=1.2, ls="--")
    ax.set_xlabel("headcount (reps)")
    ax.set_ylabel(plain(f"{effort_unit} per year"))
    ax.legend(loc="upper left", fontsize=7, frameon=False, ncol=2)
    ax.grid(alpha=0.3)
    svg = _svg(fig)
    plt.close(fig)
    return svg


def _scale(largest: float) -> tuple[float, str]:
    for factor, suffix in ((1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if largest >= 10 * factor:
            return factor, suffix
    return 1.0, ""
