"""Bar charts drawn on the server as SVG: no charting library, no script. Each bar is one
element with its key and value as data attributes (`data-key`, `data-value`), so a test or
a screen reader's user can read the figures the picture shows."""

from dataclasses import dataclass

WIDTH = 600
KEY_WIDTH = 170
VALUE_WIDTH = 80
ROW_HEIGHT = 28
BAR_HEIGHT = 18
KEY_CHARS = 22


@dataclass(frozen=True)
class Bar:
    key: str
    value: float
    text: str
    short_key: str
    # Where its parts go: the key's and the value's baseline, the bar's top, the value's x.
    text_y: int
    bar_y: int
    length: float
    value_x: float


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    width: int
    height: int
    key_x: int
    bar_x: int
    bar_height: int

    @property
    def description(self) -> str:
        """The whole chart in words, for its <title>."""
        figures = "; ".join(f"{bar.key}: {bar.text}" for bar in self.bars) or "nothing yet"
        return f"{self.title}: {figures}"


def bar_chart(title: str, points: list[tuple[str, float]], *, percent: bool = False) -> BarChart:
    """Horizontal bars, one per (key, value), longest for the largest value (or, with
    percent, for 1: values are shares, shown as percentages)."""
    top = 1.0 if percent else max((value for _, value in points), default=0) or 1
    span = WIDTH - KEY_WIDTH - VALUE_WIDTH
    bars = [
        Bar(
            key=key,
            value=value,
            text=f"{value:.1%}" if percent else f"{value:,.0f}",
            short_key=key if len(key) <= KEY_CHARS else key[: KEY_CHARS - 1] + "…",
            text_y=index * ROW_HEIGHT + (ROW_HEIGHT + BAR_HEIGHT) // 2 - 4,
            bar_y=index * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) // 2,
            length=(length := round(max(value, 0) / top * span, 1)),
            value_x=KEY_WIDTH + length + 6,
        )
        for index, (key, value) in enumerate(points)
    ]
    return BarChart(
        title=title,
        bars=bars,
        width=WIDTH,
        height=max(len(bars), 1) * ROW_HEIGHT,
        key_x=KEY_WIDTH - 8,
        bar_x=KEY_WIDTH,
        bar_height=BAR_HEIGHT,
    )
