"""PNG charts for docs/performance.md (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def cost_chart(path: Path, per_gb: dict[str, dict[str, float]], firehose: float) -> None:
    """Grouped bars: $/GB by daily volume (groups) and buffer mode (bars), Firehose as a line."""
    volumes = list(per_gb)
    modes = list(next(iter(per_gb.values())))
    width = 0.8 / len(modes)
    figure, axes = plt.subplots(figsize=(8, 4.2), dpi=110)
    for n, mode in enumerate(modes):
        xs = [i + (n - (len(modes) - 1) / 2) * width for i in range(len(volumes))]
        values = [per_gb[v][mode] for v in volumes]
        bars = axes.bar(xs, values, width, label=mode)
        axes.bar_label(bars, labels=[f"${v:.4f}" for v in values], fontsize=7, rotation=90)
    axes.axhline(firehose, color="black", linestyle="--", linewidth=1)
    axes.text(len(volumes) - 0.5, firehose * 1.08, f"Firehose ${firehose:.3f}/GB", ha="right")
    axes.axhline(0.01, color="grey", linestyle=":", linewidth=1)
    axes.text(len(volumes) - 0.5, 0.0108, "target $0.01/GB", ha="right", fontsize=8, color="grey")
    axes.set_yscale("log")
    lowest = min(min(row.values()) for row in per_gb.values())
    highest = max(max(row.values()) for row in per_gb.values())
    axes.set_ylim(min(lowest, 0.01) / 4, max(highest, firehose) * 2.5)
    axes.set_xticks(range(len(volumes)), volumes)
    axes.set_ylabel("$ per GB ingested (log scale)")
    axes.set_title("All-in cost per GB by buffer mode and daily volume")
    axes.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def ingest_chart(path: Path, mb_per_s: dict[str, dict[str, float]]) -> None:
    """Grouped bars: MB/s of raw events by batch (groups): ours, baseline, floor."""
    batches = list(mb_per_s)
    series = list(next(iter(mb_per_s.values())))
    width = 0.8 / len(series)
    figure, axes = plt.subplots(figsize=(8, 4.2), dpi=110)
    for n, name in enumerate(series):
        xs = [i + (n - (len(series) - 1) / 2) * width for i in range(len(batches))]
        values = [mb_per_s[b][name] for b in batches]
        bars = axes.bar(xs, values, width, label=name)
        axes.bar_label(bars, labels=[f"{v:.0f}" for v in values], fontsize=7)
    axes.set_xticks(range(len(batches)), batches)
    axes.set_ylabel("MB/s of events per core (CPU time)")
    axes.set_title("Ingest handler throughput by batch size")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def size_cost_chart(path: Path, chart: dict[str, Any]) -> None:
    """Lines: $/GB against the raw bytes of one request (both log scales), one line per
    front door (best buffer) and per alternative."""
    figure, axes = plt.subplots(figsize=(8, 4.6), dpi=110)
    xs = chart["bytes"]
    styles = chart.get("styles", {})
    for label, values in chart["series"].items():
        axes.plot(xs, values, marker="o", label=label, **styles.get(label, {}))
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(
        xs, [f"{name}\n({size:,} B)" for name, size in zip(chart["names"], xs, strict=True)]
    )
    axes.minorticks_off()
    axes.tick_params(axis="x", labelsize=7)
    axes.set_xlabel("raw events per request")
    axes.set_ylabel("$ per GB ingested (log scale)")
    axes.set_title(f"All-in cost per GB by request size at {chart['volume']}")
    axes.grid(True, which="major", linestyle=":", linewidth=0.5)
    axes.legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
