"""The report's plots as SVG text, drawn server-side with matplotlib: deterministic, and styled by
attributes only, so they work inline under the app's CSP (no inline style) and in a file alone.
"""

from __future__ import annotations

import html
import io
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from chat.evaluation.report import Report

# Okabe & Ito's palette: told apart with every common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*")
_STYLE = re.compile(r'style="([^"]*)"')
_HEAD = re.compile(r"\A.*?(?=<svg)", re.DOTALL)
# matplotlib's settings are one global dictionary: one drawing at a time (the web serves from threads).
_DRAWING = threading.Lock()


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """The indices of the points (cost, score) no other point beats: none is at most as dear and
    at least as good, and better on one. Cheapest first."""
    front = [
        i
        for i, (cost, score) in enumerate(points)
        if not any(
            other_cost <= cost and other_score >= score and (other_cost, other_score) != (cost, score)
            for other_cost, other_score in points
        )
    ]
    return sorted(front, key=lambda i: (points[i][0], -points[i][1], i))


def score_cost_svg(report: Report) -> str:
    """Mean score (with its 95% interval) against answering cost per task, one marker per system,
    the Pareto front joined."""
    placed = [
        (system, (system.cost_usd or 0.0) / system.tasks, system.mean)
        for system in report.systems
        if system.mean is not None and system.tasks
    ]
    with _drawing() as (figure, axes):
        for number, (system, cost, mean) in enumerate(placed):
            low = mean - (system.low if system.low is not None else mean)
            high = (system.high if system.high is not None else mean) - mean
            axes.errorbar(
                [cost],
                [mean],
                yerr=[[max(low, 0.0)], [max(high, 0.0)]],
                fmt=MARKERS[number % len(MARKERS)],
                color=PALETTE[number % len(PALETTE)],
                markersize=8,
                capsize=4,
                label=_plain(system.system + (" (self-graded)" if system.self_graded else "")),
            )
            axes.annotate(
                _plain(system.system),
                (cost, mean),
                xytext=(7, 5),
                textcoords="offset points",
                fontsize=8,
                color="#333333",
            )
        front = pareto_front([(cost, mean) for _, cost, mean in placed])
        if front:
            axes.scatter(
                [placed[i][1] for i in front],
                [placed[i][2] for i in front],
                s=220,
                facecolors="none",
                edgecolors="#333333",
                linewidths=1.2,
                label="on the Pareto front",
                zorder=3,
            )
        if len(front) > 1:
            axes.plot(
                [placed[i][1] for i in front],
                [placed[i][2] for i in front],
                linestyle="--",
                color="#555555",
                linewidth=1,
                label="Pareto front (nothing cheaper scores higher)",
            )
        axes.set_title("Score against cost (bars: 95% bootstrap interval)")
        axes.set_xlabel("Answering cost per task (USD)")
        axes.set_ylabel("Mean task score (0–100)")
        axes.set_ylim(0, 105)
        # Room right of the dearest system for its label; a free run still gets an axis.
        axes.set_xlim(0, max((cost for _, cost, _ in placed), default=0.0) * 1.25 or 0.001)
        axes.grid(True, color="#dddddd", linewidth=0.6)
        if placed:
            # Below the axes: inside, it would hide the points it names.
            axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, ncols=2)
        else:
            axes.text(0.5, 0.5, "No task scored yet", ha="center", va="center", transform=axes.transAxes)
        return _svg(figure)


def domains_svg(report: Report) -> str:
    """Each domain's mean score, one bar per system."""
    domains = report.domains
    systems = report.systems
    with _drawing() as (figure, axes):
        width = 0.8 / max(len(systems), 1)
        for number, system in enumerate(systems):
            offset = (number - (len(systems) - 1) / 2) * width
            axes.bar(
                [i + offset for i in range(len(domains))],
                [system.domains.get(domain, 0.0) for domain in domains],
                width=width,
                color=PALETTE[number % len(PALETTE)],
                # A hatch as well as a colour: bars told apart in grey too.
                hatch=("", "//", "..", "xx", "\\\\", "++", "oo", "--")[number % 8],
                edgecolor="#333333",
                linewidth=0.5,
                label=_plain(system.system),
            )
        axes.set_xticks(range(len(domains)), [_plain(domain) for domain in domains])
        axes.set_title("Mean score by domain")
        axes.set_ylabel("Mean task score (0–100)")
        axes.set_ylim(0, 105)
        axes.grid(True, axis="y", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        if systems:
            axes.legend(
                fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=min(len(systems), 3)
            )
        return _svg(figure)


@contextmanager
def _drawing() -> Iterator[tuple[Figure, Axes]]:
    """A figure of our own (no pyplot: nothing global keeps it), under the lock and our settings.
    matplotlib is imported here, the first time a plot is drawn, not when the app starts."""
    import matplotlib
    from matplotlib.figure import Figure

    # Every drawing the same bytes for the same report: ids salted, not random; no date (savefig);
    # text kept as text, so labels can be read, searched and are escaped.
    with (
        _DRAWING,
        matplotlib.rc_context({"svg.hashsalt": "fusionroom", "svg.fonttype": "none", "font.size": 10}),
    ):
        figure = Figure(figsize=(7.5, 4.5), layout="constrained")
        yield figure, figure.subplots()


def _plain(text: str) -> str:
    """A label drawn as written: `$` would start matplotlib's mathtext."""
    return text.replace("$", r"\$")


def _svg(figure: Figure) -> str:
    """The figure as an <svg> element to put inline: no XML prolog, no date, and every
    style="" attribute turned into presentation attributes (a strict CSP blocks inline style)."""
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    text = _HEAD.sub("", out.getvalue())
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    # The one stylesheet matplotlib writes: round joins, butt caps, inherited from the root.
    text = re.sub(r'<style type="text/css">[^<]*</style>', "", text)
    text = text.replace("<svg ", '<svg stroke-linejoin="round" stroke-linecap="butt" role="img" ', 1)
    return _STYLE.sub(_attributes, text)


def _attributes(match: re.Match[str]) -> str:
    pairs = []
    for declaration in match.group(1).split(";"):
        name, colon, value = declaration.partition(":")
        if colon and name.strip():
            pairs.append(f'{name.strip()}="{html.escape(value.strip(), quote=True)}"')
    return " ".join(pairs)
