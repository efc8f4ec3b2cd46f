"""Draw docs/performance.png from a compare.sh run (its results/anchors.jsonl).

    .venv/bin/python bench/plot.py /tmp/hookmail-bench/results/anchors.jsonl docs/performance.png

Two panels: webhooks per second (2 KB and 100 KB mail, 16 SMTP connections) and latency at a
steady 100 msg/s (SMTP reply p99, end to end p50 and p99), hookmail beside the naive Python
baseline and the Node peer. Pillow only (already a test dependency): no plotting library.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

SERVERS = (("hookmail", "P product", "product"), ("naive Python", "b naive", "naive"))
SERVERS += (("Node peer", "d' node-inbound", "node-inbound"),)
COLOURS = ("#1f6feb", "#8b949e", "#d29922")
WIDTH, HEIGHT = 1000, 440


def _rows(path: Path) -> dict[str, dict[str, float]]:
    rows = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if "agg" in record:
            rows[record["label"]] = {k: v["median"] for k, v in record["agg"].items()}
    return rows


def _panel(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    title: str,
    groups: list[tuple[str, list[float | None]]],
    unit: str,
) -> None:
    left, top, right, bottom = box
    draw.text((left, top), title, fill="black")
    top += 24
    bottom -= 30
    peak = max((v for _, values in groups for v in values if v), default=1.0) * 1.15
    draw.line((left, bottom, right, bottom), fill="black")
    slot = (right - left) / len(groups)
    bar = slot / (len(SERVERS) + 1)
    for g, (name, values) in enumerate(groups):
        x0 = left + g * slot + bar / 2
        for s, value in enumerate(values):
            if value is None:
                continue
            height = (bottom - top) * value / peak
            x = x0 + s * bar
            draw.rectangle((x, bottom - height, x + bar - 4, bottom), fill=COLOURS[s])
            draw.text((x, bottom - height - 14), f"{value:g}", fill="black")
        draw.text((x0, bottom + 8), name, fill="black")
    draw.text((right - 80, top - 24), unit, fill="black")


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    rows = _rows(source)

    def get(label: str, key: str) -> float | None:
        value = rows.get(label, {}).get(key)
        return round(value, 1) if value is not None else None

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    throughput = [
        (
            f"{size}, 16 connections",
            [get(f"{row} {size} c16", "webhooks_per_s") for _, row, _ in SERVERS],
        )
        for size in ("2KB", "100KB")
    ]
    _panel(draw, (20, 20, 480, HEIGHT - 60), "Webhooks delivered per second", throughput, "msg/s")
    latency = [
        (label, [get(f"{name} 2KB @100 msg/s c4", key) for _, _, name in SERVERS])
        for label, key in (
            ("SMTP p99", "smtp_lat_ms.p99"),
            ("e2e p50", "e2e_lat_ms.p50"),
            ("e2e p99", "e2e_lat_ms.p99"),
        )
    ]
    _panel(draw, (520, 20, WIDTH - 20, HEIGHT - 60), "At a steady 100 msg/s", latency, "ms")
    for s, (name, _, _) in enumerate(SERVERS):
        x = 20 + s * 180
        draw.rectangle((x, HEIGHT - 30, x + 14, HEIGHT - 16), fill=COLOURS[s])
        draw.text((x + 20, HEIGHT - 30), name, fill="black")
    image.save(target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
