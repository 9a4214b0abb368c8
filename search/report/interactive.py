"""The interactive Pareto front of the HTML page: Plotly, its JavaScript inlined, so the page works offline
as one file. Hovering a point shows its architecture, trials, accuracy and latency."""

from __future__ import annotations

from .view import ArchitecturePoint, StudyView

__all__ = ["pareto_chart"]

CHART_ID = "pareto-front"


def _lines(arch: str, width: int = 72) -> list[str]:
    """An architecture string cut at its ``|`` separators into lines of about ``width`` characters."""
    lines = [""]
    for part in arch.split("|"):
        if lines[-1] and len(lines[-1]) + 1 + len(part) > width:
            lines.append("")
        lines[-1] += ("|" if lines[-1] else "") + part
    return lines


def _hover(p: ArchitecturePoint) -> str:
    arch = "<br>".join(_lines(p.arch)) or "?"
    trials = f"trial {p.trial}" + (f" ({p.trials} trials of this architecture)" if p.trials > 1 else "")
    test = "" if p.test_accuracy is None else f", test {p.test_accuracy * 100:.2f}%"
    p50 = "" if p.predicted_p50_ms is None else f", predicted p50 {p.predicted_p50_ms:.4g} ms"
    return (f"<b>{trials}</b><br>{p.space}: {arch}<br>validation {p.val_accuracy * 100:.2f}%{test}<br>"
            f"upper bound {p.upper_ms:.4g} ms{p50}")


def _points(go, points: list[ArchitecturePoint], name: str, **style):
    return go.Scatter(x=[p.upper_ms for p in points], y=[p.val_accuracy * 100 for p in points], name=name,
                      hovertext=[_hover(p) for p in points], hoverinfo="text", **style)


def pareto_chart(view: StudyView) -> str:
    """The chart as an HTML fragment (a div and its scripts, Plotly's library included)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    if view.stopped:
        fig.add_trace(_points(go, view.stopped, "stopped early (accuracy at its last rung)", mode="markers",
                              marker={"size": 6, "color": "#bbbbbb"}))
    if view.trained:
        fig.add_trace(_points(go, view.trained, "trained fully", mode="markers",
                              marker={"size": 8, "color": "#1f77b4"}))
    if view.front:
        fig.add_trace(_points(go, view.front, "Pareto front", mode="lines+markers",
                              marker={"size": 9, "color": "#ff7f0e"}, line={"color": "#ff7f0e"}))
    for model in view.shipped:
        v = model.variant
        fig.add_trace(go.Scatter(
            x=[v["p50_ms"]], y=[v["test_accuracy"] * 100], mode="markers", hoverinfo="text",
            name=f"shipped: trial {model.card['trial']} ({model.card['shipped']})",
            marker={"symbol": "star", "size": 16, "color": "#d62728"},
            hovertext=[f"<b>shipped: trial {model.card['trial']}, {model.card['shipped']}</b><br>"
                       f"measured p50 {v['p50_ms']:.4g} ms, test {v['test_accuracy'] * 100:.2f}%"]))
    budget = view.settings.get("budget_ms")
    if budget:
        fig.add_vline(x=budget, line_dash="dash", line_color="black",
                      annotation_text=f"budget {budget:.3g} ms")
    fig.update_layout(
        xaxis_title="latency (ms): predicted upper bound; stars: measured p50",
        yaxis_title="validation accuracy (%); stars: test", height=520, margin={"t": 30},
        legend={"orientation": "h", "y": -0.2}, template="plotly_white", hoverlabel={"align": "left"})
    return fig.to_html(full_html=False, include_plotlyjs=True, div_id=CHART_ID,
                       config={"displaylogo": False, "responsive": True})
