"""Server-rendered SVG charts: plain geometry for the templates to draw (no JavaScript, no CDN)."""

from __future__ import annotations

from dataclasses import dataclass, field

from review.evaluation.stats import ReliabilityBin, Simulation, ThresholdRow

WIDTH, HEIGHT = 600, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    label: str


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    line: str = ""  # polyline points
    band: str = ""  # polygon points of the interval
    points: list[Marker] = field(default_factory=list)
    x_ticks: list[Marker] = field(default_factory=list)
    y_ticks: list[Marker] = field(default_factory=list)
    markers: dict[str, Marker] = field(default_factory=dict)
    guide: tuple[float, float, float, float] | None = None  # a reference line x1, y1, x2, y2

    @property
    def plot(self) -> dict[str, float]:
        return {"left": LEFT, "right": WIDTH - RIGHT, "top": TOP, "bottom": HEIGHT - BOTTOM}


def _x(value: float, top: float = 1.0) -> float:
    return round(LEFT + (WIDTH - LEFT - RIGHT) * value / top, 1)


def _y(value: float, top: float) -> float:
    return round(HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * min(value, top) / top, 1)


def risk_coverage(simulation: Simulation) -> Chart:
    """Error rate (with its interval) against automation rate, one point per candidate threshold."""
    rows = [row for row in simulation.rows if row.error.value is not None]
    max_error = 1 - simulation.target_accuracy
    top = max([max_error * 2, 0.05, *(min(r.error.upper, 1.0) for r in rows if r.enough_data)])
    top = min(1.0, round(top * 1.1, 2))
    chart = Chart()
    chart.line = " ".join(f"{_x(r.automation_rate)},{_y(r.error.value, top)}" for r in rows)
    upper = [f"{_x(r.automation_rate)},{_y(r.error.upper, top)}" for r in rows]
    lower = [f"{_x(r.automation_rate)},{_y(r.error.lower, top)}" for r in reversed(rows)]
    chart.band = " ".join(upper + lower)
    chart.points = [_point(r, top) for r in rows]
    chart.x_ticks = [Marker(_x(v), HEIGHT - BOTTOM, f"{v:.0%}") for v in (0, 0.25, 0.5, 0.75, 1)]
    chart.y_ticks = [Marker(LEFT, _y(top * i / 4, top), f"{top * i / 4:.1%}") for i in range(5)]
    chart.guide = (LEFT, _y(max_error, top), WIDTH - RIGHT, _y(max_error, top))
    marked = {"current": simulation.current_threshold, "recommended": simulation.recommended}
    for name, threshold in marked.items():
        row = _nearest(rows, threshold)
        if row is not None:
            x, y = _x(row.automation_rate), _y(row.error.value, top)
            chart.markers[name] = Marker(x, y, f"{threshold:.2f}")
    return chart


def reliability(bins: list[ReliabilityBin]) -> Chart:
    """Observed accuracy against mean confidence per bin, with the diagonal of perfect calibration."""
    chart = Chart()
    chart.points = [
        Marker(_x(b.mean_confidence), _y(b.accuracy, 1.0), f"{b.lower:.1f} to {b.upper:.1f}: n={b.n}")
        for b in bins
    ]
    chart.line = " ".join(f"{p.x},{p.y}" for p in chart.points)
    chart.x_ticks = [Marker(_x(v), HEIGHT - BOTTOM, f"{v:.1f}") for v in (0, 0.25, 0.5, 0.75, 1)]
    chart.y_ticks = [Marker(LEFT, _y(v, 1.0), f"{v:.0%}") for v in (0, 0.25, 0.5, 0.75, 1)]
    chart.guide = (_x(0), _y(0, 1.0), _x(1), _y(1, 1.0))
    return chart


def _point(row: ThresholdRow, top: float) -> Marker:
    return Marker(
        _x(row.automation_rate),
        _y(row.error.value, top),
        f"threshold {row.threshold:.2f}: automation {row.automation_rate:.1%}, error {row.error.value:.1%}",
    )


def _nearest(rows: list[ThresholdRow], threshold: float | None) -> ThresholdRow | None:
    if threshold is None or not rows:
        return None
    return min(rows, key=lambda row: abs(row.threshold - threshold))
