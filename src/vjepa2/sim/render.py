"""Draw the table top and the arm: uint8 RGB [H, W, 3], anti-aliased, numpy only.

Shapes (discs, and capsules: thick segments with round ends) are drawn by coverage (how much of
each pixel a shape covers, from its signed distance), so a sub-pixel move changes the picture a
little: the energy a planner minimises stays smooth.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

TABLE_COLOUR = (196, 178, 148)
GRID_COLOUR = (176, 158, 128)
FLOOR_COLOUR = (170, 160, 140)
BODY_COLOUR = (60, 60, 70)
FINGER_COLOUR = (235, 235, 240)
ARM_COLOUR = (150, 150, 165)


@dataclass(frozen=True)
class Canvas:
    """Maps table coordinates (metres, x right, y up) to pixel centres: the picture spans
    ``centre ± half_width`` in x and y."""

    size: int
    half_width: float
    centre: tuple[float, float] = (0.0, 0.0)

    @property
    def pixels_per_metre(self) -> float:
        return self.size / (2 * self.half_width)

    @cached_property
    def pixel_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Table x and y of every pixel centre: two float64 [H, W] arrays."""
        centres = (np.arange(self.size) + 0.5) / self.pixels_per_metre - self.half_width
        return np.meshgrid(centres + self.centre[0], self.centre[1] - centres)


def table(canvas: Canvas, half_width: float, grid_step: float = 0.1) -> np.ndarray:
    """The empty table (x, y within ±``half_width``) with faint grid lines every ``grid_step``
    metres, on the floor where the picture shows more: float32 [H, W, 3]."""
    x, y = canvas.pixel_grid
    image = np.empty((canvas.size, canvas.size, 3), np.float32)
    image[:] = TABLE_COLOUR
    line_width = max(1.0, canvas.pixels_per_metre * 0.006) / canvas.pixels_per_metre
    for coordinate in (x, y):
        offset = np.abs((coordinate + grid_step / 2) % grid_step - grid_step / 2)
        weight = np.clip(1.0 - offset / line_width, 0.0, 1.0) * 0.8
        image += weight[..., None] * (np.asarray(GRID_COLOUR, np.float32) - image)
    outside = np.maximum(np.abs(x), np.abs(y)) - half_width
    floor = np.clip(outside * canvas.pixels_per_metre + 0.5, 0.0, 1.0)
    image += floor[..., None] * (np.asarray(FLOOR_COLOUR, np.float32) - image)
    return image


def paint_disc(
    image: np.ndarray, canvas: Canvas, centre: np.ndarray, radius: float, colour, opacity=1.0
) -> None:
    """Blend a disc (table coordinates) of ``colour`` into ``image`` float [H, W, 3], in place."""
    x, y = canvas.pixel_grid
    distance = np.hypot(x - centre[0], y - centre[1])
    coverage = np.clip((radius - distance) * canvas.pixels_per_metre + 0.5, 0.0, 1.0) * opacity
    image += coverage[..., None] * (np.asarray(colour, np.float32) - image)


def paint_glow(image: np.ndarray, canvas: Canvas, centre, radius: float, strength: float) -> None:
    """Lighten ``image`` float [H, W, 3] in place by a Gaussian pool of light of std ``radius``
    (metres) around ``centre`` [2]: ``strength`` of the way to white at its centre."""
    x, y = canvas.pixel_grid
    light = strength * np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * radius**2))
    image += light[..., None].astype(np.float32) * (255.0 - image)


def paint_capsule(
    image: np.ndarray, canvas: Canvas, start, end, radius: float, colour, opacity=1.0
) -> None:
    """Blend a thick segment from ``start`` to ``end`` [2] (table coordinates) with round ends of
    ``radius`` into ``image`` float [H, W, 3], in place."""
    x, y = canvas.pixel_grid
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    along = end - start
    length2 = max(float(along @ along), 1e-12)
    t = np.clip(((x - start[0]) * along[0] + (y - start[1]) * along[1]) / length2, 0.0, 1.0)
    distance = np.hypot(x - start[0] - t * along[0], y - start[1] - t * along[1])
    coverage = np.clip((radius - distance) * canvas.pixels_per_metre + 0.5, 0.0, 1.0) * opacity
    image += coverage[..., None] * (np.asarray(colour, np.float32) - image)


def shade(colour, factor: float) -> tuple[float, float, float]:
    """``colour`` scaled by ``factor`` towards white (> 1) or black (< 1)."""
    c = np.asarray(colour, np.float32)
    return tuple(c + (255 - c) * (factor - 1) if factor > 1 else c * factor)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image), 0, 255).astype(np.uint8)
