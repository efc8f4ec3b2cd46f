"""The overview's deliveries-per-hour chart: bar geometry for an inline SVG, drawn on the
server (no chart library, no script)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from attrs import frozen

from hookmail.core.services.overview import Hour

WIDTH = 480
HEIGHT = 120
AXIS = 16  # room for the hour labels below the bars


@frozen
class Bar:
    x: float
    width: float
    delivered_y: float
    delivered_height: float
    failed_y: float
    failed_height: float
    title: str  # what the bar says, for a tooltip and assistive tools
    label: str  # the hour under every sixth bar, else ""


@frozen
class Chart:
    width: int
    height: int
    bars: list[Bar]
    peak: int


def chart(hours: list[Hour], timezone: str) -> Chart:
    zone = ZoneInfo(timezone)
    peak = max([h.delivered + h.failed for h in hours] + [1])
    slot = WIDTH / max(len(hours), 1)
    scale = (HEIGHT - AXIS) / peak
    bars = []
    for i, hour in enumerate(hours):
        delivered_height = hour.delivered * scale
        failed_height = hour.failed * scale
        base = HEIGHT - AXIS
        local = hour.start.astimezone(zone)
        bars.append(
            Bar(
                x=round(i * slot + 1, 1),
                width=round(slot - 2, 1),
                delivered_y=round(base - delivered_height, 1),
                delivered_height=round(delivered_height, 1),
                failed_y=round(base - delivered_height - failed_height, 1),
                failed_height=round(failed_height, 1),
                title=f"{local:%H}:00 {hour.delivered} delivered, {hour.failed} failed",
                label=f"{local:%H}h" if i % 6 == 0 else "",
            )
        )
    return Chart(WIDTH, HEIGHT, bars, peak)
