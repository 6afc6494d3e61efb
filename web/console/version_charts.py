"""The Versions page's charts, drawn on the server as SVG like charts.bar_chart: a confusion
matrix as a heatmap and accuracy by version as lines. Every figure is an element with its
values as data attributes (a cell's `data-row`, `data-col`, `data-value`; a point's
`data-series`, `data-key`, `data-value`), so a test or a screen reader's user can read what
the picture shows; each chart's <title> says it all in words."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WIDTH = 600
AXIS_CHARS = 14
# The heatmap: room for the true labels on the left and the predicted ones, slanted, on top.
CELL = 56
ROW_KEY_WIDTH = 130
COLUMN_KEY_HEIGHT = 90
# Shades of a cell by its share of its row (its true label): 0, then four steps up to 1.
HEAT_STEPS = 4
# The line chart's plot area inside its frame.
LINE_HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 12, 44
# Each line's points have a shape of their own, so that no line is told apart by colour alone.
MARKERS = ("circle", "square", "diamond")


def _short(text: str, chars: int = AXIS_CHARS) -> str:
    return text if len(text) <= chars else text[: chars - 1] + "…"


@dataclass(frozen=True)
class Cell:
    row: int
    col: int
    true_label: str
    predicted_label: str
    value: int
    share: float
    x: int
    y: int
    # 0 (none) to HEAT_STEPS (the whole row): the class that shades it.
    heat: int


@dataclass(frozen=True)
class AxisKey:
    text: str
    short: str
    x: float
    y: float


@dataclass(frozen=True)
class Heatmap:
    title: str
    cells: list[Cell]
    rows: list[AxisKey]
    columns: list[AxisKey]
    width: int
    height: int
    cell: int

    @property
    def half(self) -> float:
        return self.cell / 2

    @property
    def description(self) -> str:
        figures = "; ".join(
            f"true {cell.true_label}, predicted {cell.predicted_label}: {cell.value}"
            for cell in self.cells
        )
        return f"{self.title}: {figures or 'nothing yet'}"


def heatmap(title: str, labels: Sequence[str], rows: Sequence[Sequence[int]]) -> Heatmap:
    """A confusion matrix as a grid: a row per true label, a column per predicted label, in
    the order of `labels`, each cell shaded by its share of its row."""
    cells = []
    for row, (true_label, counts) in enumerate(zip(labels, rows, strict=True)):
        total = sum(counts)
        for col, (predicted_label, value) in enumerate(zip(labels, counts, strict=True)):
            share = value / total if total else 0.0
            cells.append(
                Cell(
                    row=row,
                    col=col,
                    true_label=true_label,
                    predicted_label=predicted_label,
                    value=value,
                    share=share,
                    x=ROW_KEY_WIDTH + col * CELL,
                    y=COLUMN_KEY_HEIGHT + row * CELL,
                    heat=math.ceil(share * HEAT_STEPS),
                )
            )
    half = CELL / 2
    return Heatmap(
        title=title,
        cells=cells,
        rows=[
            AxisKey(label, _short(label), ROW_KEY_WIDTH - 8, COLUMN_KEY_HEIGHT + i * CELL + half)
            for i, label in enumerate(labels)
        ],
        columns=[
            AxisKey(label, _short(label), ROW_KEY_WIDTH + i * CELL + half, COLUMN_KEY_HEIGHT - 8)
            for i, label in enumerate(labels)
        ],
        # As wide as the other charts at least, so that all are drawn at one scale.
        width=max(WIDTH, ROW_KEY_WIDTH + len(labels) * CELL + 8),
        height=COLUMN_KEY_HEIGHT + len(labels) * CELL + 8,
        cell=CELL,
    )


@dataclass(frozen=True)
class Point:
    series: str
    key: str
    value: float
    # When the figure was measured (ISO 8601), if known.
    time: str | None
    x: float
    y: float


@dataclass(frozen=True)
class Series:
    name: str
    title: str
    marker: str
    points: list[Point]
    # Each run of neighbouring points as a polyline's `points`: a version without the figure
    # breaks the line rather than joining its neighbours across it.
    lines: list[str]


@dataclass(frozen=True)
class Tick:
    text: str
    # Where it is on its axis (a y tick's grid line, an x tick's column), and its text.
    at: float
    text_x: float
    text_y: float
    key: str = ""
    selected: bool = False


@dataclass(frozen=True)
class LineChart:
    title: str
    series: list[Series]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    # The selected key's column, marked behind the lines; None if it is not in the chart.
    band_x: float | None
    band_width: float

    @property
    def plot_height(self) -> int:
        return self.bottom - self.top

    @property
    def description(self) -> str:
        parts = []
        for series in self.series:
            figures = ", ".join(f"{point.key[:8]} {point.value:.3f}" for point in series.points)
            parts.append(f"{series.title}: {figures or 'none'}")
        return f"{self.title}. " + "; ".join(parts)


# A figure of one key: its value and when it was measured (None if not known).
Figure = tuple[float, str | None]


def line_chart(
    title: str,
    keys: Sequence[tuple[str, str]],
    series: Sequence[tuple[str, str, Mapping[str, Figure]]],
    *,
    selected: str | None = None,
) -> LineChart:
    """Lines over `keys` ((key, short text) each, in order along the x axis, evenly spaced),
    one per (name, title, {key: figure}) of `series`; values are shares (0 to 1). The y axis
    runs from the tenth below the smallest value to 1."""
    values = [value for _, _, figures in series for value, _ in figures.values()]
    low = max(0.0, math.floor(min(values, default=0.0) * 10) / 10)
    if low >= 1.0:
        low = 0.9
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = LINE_HEIGHT - TOP - BOTTOM
    step = plot_width / max(len(keys), 1)

    def x_of(index: int) -> float:
        return round(LEFT + step * (index + 0.5), 1)

    def y_of(value: float) -> float:
        return round(TOP + (1 - (value - low) / (1 - low)) * plot_height, 1)

    drawn = []
    for number, (name, series_title, figures) in enumerate(series):
        points: list[Point] = []
        lines: list[list[Point]] = []
        run: list[Point] = []
        for index, (key, _) in enumerate(keys):
            if key not in figures:
                lines.append(run)
                run = []
                continue
            value, time = figures[key]
            point = Point(name, key, value, time, x_of(index), y_of(value))
            points.append(point)
            run.append(point)
        lines.append(run)
        drawn.append(
            Series(
                name,
                series_title,
                MARKERS[number % len(MARKERS)],
                points,
                [" ".join(f"{p.x},{p.y}" for p in line) for line in lines if len(line) > 1],
            )
        )
    tenths = round((1 - low) * 10)
    index_of = {key: index for index, (key, _) in enumerate(keys)}
    return LineChart(
        title=title,
        series=drawn,
        x_ticks=[
            Tick(text, x, x, LINE_HEIGHT - BOTTOM + 20, key, key == selected)
            for index, (key, text) in enumerate(keys)
            for x in (x_of(index),)
        ],
        y_ticks=[
            Tick(f"{value:.1f}", y, LEFT - 6, y + 5)
            for tenth in range(tenths + 1)
            for value in (low + tenth / 10,)
            for y in (y_of(value),)
        ],
        width=WIDTH,
        height=LINE_HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=LINE_HEIGHT - BOTTOM,
        band_x=x_of(index_of[selected]) - step / 2 if selected in index_of else None,
        band_width=round(step, 1),
    )
