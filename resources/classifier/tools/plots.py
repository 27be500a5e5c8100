"""PNG charts of a training run and of a confusion matrix, drawn with Pillow (no plotting library)."""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from PIL import Image, ImageDraw, ImageFont

from commons.errors import InvalidInput

Color = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
WHITE: Final[Color] = (255, 255, 255)
BLACK: Final[Color] = (0, 0, 0)
GRID: Final[Color] = (225, 225, 225)
TRAIN: Final[Color] = (31, 119, 180)
VAL: Final[Color] = (230, 120, 20)
BEST: Final[Color] = (46, 125, 50)  # the best epoch's mark (green, as on the Train page's chart)
PANEL: Final[tuple[int, int]] = (480, 340)  # width, height of one chart
MARGIN: Final[tuple[int, int, int, int]] = (64, 48, 28, 52)  # left, top, right, bottom


def curves_png(history: Sequence[Mapping[str, Any]], *, best_epoch: int | None = None) -> bytes:
    """Two charts side by side: loss and accuracy per epoch, train (blue) and validation (orange).

    `history` is `TrainResult.history`: dicts with "epoch", "train_loss", "train_accuracy" and
    optionally "val_loss"/"val_accuracy" (None values are left out). `best_epoch` (the published one, when
    training kept the best) is marked on both charts with a dashed green line, and on the accuracy chart
    with a ring around its validation point and "best: epoch N". Returns PNG bytes (RGB).
    """
    if not history:
        raise InvalidInput("no epochs to plot: the training history is empty", field="history")
    epochs = [int(record["epoch"]) for record in history]
    image = Image.new("RGB", (PANEL[0] * 2, PANEL[1]), WHITE)
    draw = ImageDraw.Draw(image)
    for offset, metric, title in ((0, "loss", "Loss"), (PANEL[0], "accuracy", "Accuracy")):
        series = {
            "train": _values(history, f"train_{metric}"),
            "validation": _values(history, f"val_{metric}"),
        }
        _chart(draw, offset, title, epochs, series, fixed_unit=metric == "accuracy", best_epoch=best_epoch)
    return _png(image)


def confusion_png(matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> bytes:
    """A heatmap of a CxC confusion matrix (rows = true class, columns = predicted) with its counts.

    Cell colour is the count divided by its row total (white 0 → dark blue 1), so each true class reads
    as a distribution; counts are written in cells of 18 px or more. Returns PNG bytes (RGB).
    """
    size = len(classes)
    if size == 0 or len(matrix) != size or any(len(row) != size for row in matrix):
        raise InvalidInput(f"the confusion matrix must be {size}x{size}, one row and column per class", field="matrix")
    cell = max(2, min(56, 720 // size))
    small = _font(max(8, min(14, cell // 3)))
    font = _font(14)
    names = [_short(name, 14) for name in classes]
    label_width = max(_text_width(small, name) for name in names) + 10 if cell >= 12 else 0
    left, top = 36 + label_width, 44
    title = "Confusion matrix (colour: share of the true class)"
    width = max(left + cell * size + 20, _text_width(font, title) + 24)
    height = top + cell * size + label_width + 44
    image = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(image)
    for row, counts in enumerate(matrix):
        total = sum(counts)
        for column, count in enumerate(counts):
            share = count / total if total else 0.0
            x, y = left + column * cell, top + row * cell
            colour = _blend(WHITE, (8, 48, 107), share)
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=colour, outline=GRID if cell >= 8 else None)
            if cell >= 18:
                text_colour = WHITE if share > 0.5 else BLACK
                draw.text((x + cell / 2, y + cell / 2), str(count), fill=text_colour, font=small, anchor="mm")
    if label_width:
        for index, name in enumerate(names):
            centre = index * cell + cell / 2
            draw.text((left - 6, top + centre), name, fill=BLACK, font=small, anchor="rm")
            strip = Image.new("RGB", (label_width, cell), WHITE)
            ImageDraw.Draw(strip).text((label_width - 4, cell / 2), name, fill=BLACK, font=small, anchor="rm")
            image.paste(strip.rotate(90, expand=True), (left + index * cell, top + cell * size + 4))
    draw.text((width / 2, 16), title, fill=BLACK, font=font, anchor="mm")
    draw.text((left + cell * size / 2, height - 16), "predicted class", fill=BLACK, font=font, anchor="mm")
    axis = Image.new("RGB", (cell * size, 20), WHITE)
    ImageDraw.Draw(axis).text((cell * size / 2, 10), "true class", fill=BLACK, font=font, anchor="mm")
    image.paste(axis.rotate(90, expand=True), (6, top))
    return _png(image)


def _chart(
    draw: ImageDraw.ImageDraw,
    offset: int,
    title: str,
    epochs: list[int],
    series: dict[str, list[tuple[int, float]]],
    *,
    fixed_unit: bool,
    best_epoch: int | None = None,
) -> None:
    """One line chart in the panel starting at x = offset: axes, ticks, grid, lines, legend, and the best
    epoch's mark when `best_epoch` is one of `epochs`."""
    font = _font(13)
    left, top, right, bottom = offset + MARGIN[0], MARGIN[1], offset + PANEL[0] - MARGIN[2], PANEL[1] - MARGIN[3]
    values = [value for points in series.values() for _, value in points]
    step = 0.2 if fixed_unit else _nice_step(max([*values, 1e-6]) / 5)
    low, high = 0.0, 1.0 if fixed_unit else step * math.ceil(max([*values, 1e-6]) / step)
    digits = max(0, -math.floor(math.log10(step)))
    first, last = min(epochs), max(epochs)
    span = max(last - first, 1)

    def at(epoch: float, value: float) -> tuple[float, float]:
        return (
            left + (epoch - first) / span * (right - left),
            bottom - (value - low) / (high - low) * (bottom - top),
        )

    for tick in range(round((high - low) / step) + 1):
        value = low + step * tick
        y = at(first, value)[1]
        draw.line((left, y, right, y), fill=GRID)
        draw.text((left - 6, y), f"{value:.{digits}f}", fill=BLACK, font=font, anchor="rm")
    for epoch in _epoch_ticks(first, last):
        x = at(epoch, low)[0]
        draw.line((x, bottom, x, bottom + 4), fill=BLACK)
        draw.text((x, bottom + 6), str(epoch), fill=BLACK, font=font, anchor="mt")
    draw.line((left, top, left, bottom), fill=BLACK)
    draw.line((left, bottom, right, bottom), fill=BLACK)
    draw.text((left, top / 2), title, fill=BLACK, font=_font(16), anchor="lm")
    draw.text(((left + right) / 2, PANEL[1] - 14), "epoch", fill=BLACK, font=font, anchor="mm")
    if best_epoch in epochs:
        _mark_best(draw, at, best_epoch, series["validation"] if fixed_unit else [], box=(left, top, right, bottom))
    for points, colour in zip(series.values(), (TRAIN, VAL), strict=True):
        xy = [at(epoch, value) for epoch, value in points]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2)
        for x, y in xy:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
    legend_x = right - 220  # the legend sits in the top margin, clear of the data
    for name, colour in zip(series, (TRAIN, VAL), strict=True):
        draw.line((legend_x, top / 2, legend_x + 20, top / 2), fill=colour, width=3)
        draw.text((legend_x + 26, top / 2), name, fill=BLACK, font=font, anchor="lm")
        legend_x += 26 + _text_width(font, name) + 18


def _mark_best(
    draw: ImageDraw.ImageDraw,
    at: Callable[[float, float], tuple[float, float]],
    epoch: int,
    points: list[tuple[int, float]],
    *,
    box: tuple[float, float, float, float],
) -> None:
    """A dashed vertical line at `epoch`; with `points` (the validation accuracy), a ring around the epoch's
    point and its label, above the point or below it when the point is near the top."""
    _, top, right, bottom = box
    x = at(epoch, 0.0)[0]
    for dash in range(int(top), int(bottom), 8):
        draw.line((x, dash, x, min(dash + 4, bottom)), fill=BEST, width=2)
    value = next((v for e, v in points if e == epoch), None)
    if value is None:
        return
    _, y = at(epoch, value)
    draw.ellipse((x - 7, y - 7, x + 7, y + 7), outline=BEST, width=2)
    anchor = "rm" if x > right - 110 else "lm"  # beside the dashed line, on the side with room
    label_x = x - 10 if anchor == "rm" else x + 10
    label_y = y - 16 if y - 16 >= top + 10 else y + 18
    label = f"best: epoch {epoch}"
    draw.text((label_x, label_y), label, fill=BEST, font=_font(13), anchor=anchor, stroke_width=3, stroke_fill=WHITE)


def _values(history: Sequence[Mapping[str, Any]], key: str) -> list[tuple[int, float]]:
    """(epoch, value) pairs for the records where `key` holds a finite number."""
    points = []
    for record in history:
        value = record.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            points.append((int(record["epoch"]), float(value)))
    return points


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^n that is ≥ raw."""
    power = 10.0 ** math.floor(math.log10(raw))
    return next(power * m for m in (1.0, 2.0, 2.5, 5.0, 10.0) if power * m >= raw)


def _epoch_ticks(first: int, last: int) -> list[int]:
    step = max(1, math.ceil((last - first + 1) / 10))
    return list(range(first, last + 1, step))


def _blend(low: Color, high: Color, share: float) -> Color:
    r, g, b = (round(a + (b - a) * share) for a, b in zip(low, high, strict=True))
    return (r, g, b)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _text_width(font: Font, text: str) -> int:
    x0, _, x1, _ = font.getbbox(text)
    return int(x1 - x0)


def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
