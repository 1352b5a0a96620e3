"""What the dashboard test modules share: the PNG signature, control extremes, settings that make every control
matter, the settings a dashboard's picture is checked at, and where its legends, data and text land on screen."""

from __future__ import annotations

import ast
import re
from contextlib import contextmanager
from pathlib import Path

import ipywidgets as widgets
import numpy as np
from matplotlib import cbook
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.text import Text
from matplotlib.transforms import Bbox

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Settings under which every control of a dashboard has a visible effect: the timeout slider does
#: nothing while the timeout is off; lesson 03's custom-threshold sliders act only on the custom
#: breaker, the pool size only on separate pools, the hedge delay only with hedging on, and K only
#: with throttling on.
CONTEXT = {"slow_dependency": {"timeout_on": True}, "breaker": {"preset": "custom"},
           "bulkhead": {"pools": "separate"}, "tail_at_scale": {"hedge": True}, "overload": {"throttle": True},
           # A design where every control matters: calls with timeouts and retries, so budgets, breakers,
           # fallbacks and keys have something to act on.
           # The timeline follows inventory's outage, where inventory's policies show.
           "checkout": {"inventory_timeout": 0.5, "inventory_retries": 2, "payments_timeout": 2.0,
                        "payments_retries": 2, "timeline": "inventory_down"}}

#: Settings known to crowd a picture, checked on top of the generic extremes: the retry storm at its
#: worst (every layer, every attempt, no defence) and the outbox dashboard's never-delivered row.
CROWDED = {"retry_storm": [{"layers": 4, "attempts": 5}],
           "outbox": [{"mode": "write_then_publish", "crash_probability": 0.5}]}

LESSONS = Path(__file__).resolve().parents[2] / "course"


@contextmanager
def without_drawing():
    """Dashboards built inside neither simulate nor draw (a second each): for tests of their controls,
    presets and factories, which need only the widgets."""
    from course.dashboards import base

    update = base.Dashboard.update
    base.Dashboard.update = lambda self: None
    try:
        yield
    finally:
        base.Dashboard.update = update


def extremes(control):
    """The two ends of a control's range."""
    if isinstance(control, widgets.Checkbox):
        return False, True
    if isinstance(control, widgets.Dropdown):
        values = [value for _, value in control.options]
        return values[0], values[-1]
    return control.min, control.max


def _is_scale(values) -> bool:
    """Whether a dropdown's values are numbers: a slider with chosen stops (a timeout, a fan-out)."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def ends(control) -> list:
    """Every value worth drawing a control at: a slider's two ends, a checkbox's two states, every option of a
    dropdown of choices, and the two ends of a dropdown of numbers (as a slider's)."""
    if isinstance(control, widgets.Dropdown):
        values = [value for _, value in control.options]
        return [values[0], values[-1]] if _is_scale(values) else values
    return list(extremes(control))


def lesson_settings(name: str) -> list[dict]:
    """The keyword arguments of every ``<name>_dashboard(...)`` call in the lesson notebooks."""
    import nbformat
    found = []
    call = re.compile(rf"\b{re.escape(name)}_dashboard\(([^()]*)\)")
    for path in sorted(LESSONS.glob("*.ipynb")):
        for cell in nbformat.read(path, 4).cells:
            if cell.cell_type != "code":
                continue
            for match in call.finditer(cell.source):
                node = ast.parse(f"f({match.group(1)})", mode="eval").body
                # Only literal values are settings; an object passed in (lesson 09's interview=kit) is not.
                found.append({k.arg: ast.literal_eval(k.value) for k in node.keywords
                              if isinstance(k.value, ast.Constant)})
    return found


def picture_settings(name: str, dashboard) -> list[dict]:
    """The settings a dashboard's picture is checked at, each a full set of control values.

    The defaults; each control at each of its :func:`ends` with the others at their defaults (plus
    :data:`CONTEXT`, so the control matters); every slider at its low end at once and at its high end at
    once, with the other controls at their defaults, all at their first option (or off) and all at their
    last option (or on); :data:`CROWDED`; and every setting a lesson notebook opens the dashboard with.
    Duplicates are dropped.
    """
    defaults = dict(dashboard.params)
    context = CONTEXT.get(name, {})
    controls = dashboard.controls_by_name
    sliders = [k for k, c in controls.items() if isinstance(c, (widgets.IntSlider, widgets.FloatSlider))]
    others = [k for k in controls if k not in sliders]
    candidates = [{}]
    for key, control in controls.items():
        candidates += [{**context, key: value} for value in ends(control)]
    for corner in (0, 1):
        slid = {k: extremes(controls[k])[corner] for k in sliders}
        candidates.append({**context, **slid})
        for end in (0, 1):
            candidates.append({**slid, **{k: extremes(controls[k])[end] for k in others}})
    candidates += CROWDED.get(name, [])
    for called in lesson_settings(name):
        # A preset (lesson 09's checkout_dashboard(preset=...)) stands for the controls it loads.
        if "preset" in called and "preset" not in controls:
            called = {**dashboard.preset_controls(called["preset"]),
                      **{k: v for k, v in called.items() if k != "preset"}}
        candidates.append(called)
    settings, seen = [], set()
    for candidate in candidates:
        full = {**defaults, **candidate}
        key = tuple(sorted((k, repr(v)) for k, v in full.items()))
        if key not in seen:
            seen.add(key)
            settings.append(full)
    return settings


# -- where things land on screen (display pixels, after a render) -------------------------------------

def _visible(artist) -> bool:
    return artist.get_visible() and (not isinstance(artist, Text) or bool(artist.get_text().strip()))


def _clip(bbox, ax, artist):
    if artist.get_clip_on():
        return Bbox.intersection(bbox, ax.bbox)
    return bbox


def _densify(points: np.ndarray, step: float = 2.0) -> np.ndarray:
    """The vertices of a polyline plus points every ``step`` px along its segments (NaN vertices break it)."""
    a, b = points[:-1], points[1:]
    ok = np.all(np.isfinite(a), axis=1) & np.all(np.isfinite(b), axis=1)
    a, b = a[ok], b[ok]
    n = (np.hypot(*(b - a).T) // step).astype(int)
    if not n.sum():
        return points
    index = np.repeat(np.arange(len(a)), n)
    t = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(np.maximum(n, 1), n)
    return np.concatenate([points, a[index] + t[:, None] * (b[index] - a[index])])


def _line_points(line, ax):
    """(points, half-size in px) where a Line2D puts ink: vertices, steps and segments, and its markers."""
    xy = np.asarray(line.get_xydata(), dtype=float)
    if xy.size == 0:
        return np.empty((0, 2)), 0.0
    x, y = cbook.STEP_LOOKUP_MAP[line.get_drawstyle()](xy[:, 0], xy[:, 1])
    with np.errstate(all="ignore"):
        points = line.get_transform().transform(np.column_stack([x, y]))
    drawn = line.get_linestyle() not in ("None", "none", "", " ") and line.get_linewidth() > 0
    if drawn:
        points = _densify(points)
    points = points[np.all(np.isfinite(points), axis=1)]
    if line.get_clip_on():
        box = ax.bbox
        points = points[(points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
                        & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)]
    dpi = ax.figure.dpi
    half = line.get_linewidth() * dpi / 72 / 2 if drawn else 0.0
    if line.get_marker() not in (None, "None", "none", "", " "):
        half = max(half, line.get_markersize() * dpi / 72 / 2)
    return points, half


def data_marks(ax, renderer) -> list:
    """What an axes draws as data, in display px: ``(description, points (n×2) or None, half-size, bbox or None)``.

    Lines (their vertices, the segments between them and their markers), bars and other patches, scatter
    offsets, polygon and line collections, images, and text placed in the axes (bar values, notes).
    """
    marks = []
    for line in ax.lines:
        if _visible(line):
            points, half = _line_points(line, ax)
            if len(points):
                marks.append((f"line {line.get_label()!r}", points, half, None))
    for patch in ax.patches:
        if _visible(patch):
            box = _clip(patch.get_window_extent(renderer), ax, patch)
            if box is not None and box.width > 0 and box.height > 0:
                marks.append((f"patch {patch.get_label()!r}", None, 0.0, box))
    for coll in ax.collections:
        if not _visible(coll):
            continue
        if isinstance(coll, PathCollection) and len(coll.get_offsets()):
            points = coll.get_offset_transform().transform(np.asarray(coll.get_offsets(), dtype=float))
            sizes = coll.get_sizes()
            half = float(np.sqrt(sizes.max()) * ax.figure.dpi / 72 / 2) if len(sizes) else 0.0
            marks.append((f"scatter {coll.get_label()!r}", points, half, None))
            continue
        transform = coll.get_transform()
        for path in coll.get_paths():
            if not len(path.vertices):
                continue
            vertices = transform.transform(path.vertices)
            if isinstance(coll, LineCollection):
                marks.append((f"segments {coll.get_label()!r}", _densify(vertices), 1.0, None))
            else:
                box = _clip(Bbox.from_extents(*vertices.min(axis=0), *vertices.max(axis=0)), ax, coll)
                if box is not None:
                    marks.append((f"shape {coll.get_label()!r}", None, 0.0, box))
    for image in ax.images:
        if _visible(image):
            marks.append(("image", None, 0.0, _clip(image.get_window_extent(renderer), ax, image)))
    for text in ax.texts:
        if _visible(text):
            marks.append((f"text {text.get_text()!r}", None, 0.0, text.get_window_extent(renderer)))
    return marks


def _tick_labels(axis):
    low, high = sorted(axis.get_view_interval())
    for tick in axis.get_major_ticks() + axis.get_minor_ticks():
        if low - 1e-9 * abs(high - low) <= tick.get_loc() <= high + 1e-9 * abs(high - low):
            for label in (tick.label1, tick.label2):
                if _visible(label):
                    yield label


def figure_texts(figure) -> list:
    """Every visible text of the figure outside its legends: titles, axis labels, tick labels in view,
    offset texts, texts placed in axes, and figure-level titles."""
    texts = [t for t in (figure._suptitle, figure._supxlabel, figure._supylabel) if t is not None]
    texts += list(figure.texts)
    for ax in figure.axes:
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label,
                  ax.xaxis.offsetText, ax.yaxis.offsetText]
        texts += list(_tick_labels(ax.xaxis)) + list(_tick_labels(ax.yaxis))
        texts += list(ax.texts)
    return [t for t in texts if _visible(t)]


def legends(figure) -> list:
    """Every visible legend: the axes' and the figure's."""
    found = [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None] + list(figure.legends)
    return [legend for legend in found if legend.get_visible()]


def _describe(legend) -> str:
    return "legend [" + ", ".join(t.get_text() for t in legend.get_texts()[:3]) + ", …]"


def _hits(box: Bbox, points: np.ndarray, half: float, tolerance: float) -> int:
    inside = ((points[:, 0] > box.x0 - half + tolerance) & (points[:, 0] < box.x1 + half - tolerance)
              & (points[:, 1] > box.y0 - half + tolerance) & (points[:, 1] < box.y1 + half - tolerance))
    return int(np.count_nonzero(inside))


def _overlap(a: Bbox, b: Bbox, tolerance: float) -> bool:
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > tolerance) and (min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance)


def legend_problems(dashboard, tolerance: float = 1.0) -> list[str]:
    """What the dashboard's legends cover in its last render, one line per problem (an empty list is good).

    A legend's box (its window extent, frame and padding included) must not cover any data mark of any
    axes (:func:`data_marks`), any text of the figure (:func:`figure_texts`) or another legend, and must lie
    inside the figure. Overlaps smaller than ``tolerance`` px are ignored.
    """
    figure = dashboard.figure
    renderer = dashboard.canvas.get_renderer()
    boxes = [(legend, legend.get_window_extent(renderer)) for legend in legends(figure)]
    problems = []
    page = figure.bbox
    for legend, box in boxes:
        name = _describe(legend)
        if (box.x0 < page.x0 - tolerance or box.y0 < page.y0 - tolerance or box.x1 > page.x1 + tolerance
                or box.y1 > page.y1 + tolerance):
            problems.append(f"{name} reaches outside the figure ({box.bounds} vs {page.bounds})")
        for ax in figure.axes:
            for what, points, half, mark in data_marks(ax, renderer):
                if points is not None:
                    hits = _hits(box, points, half, tolerance)
                    if hits:
                        problems.append(f"{name} covers {hits} point(s) of {what} in axes {ax.get_title()!r}")
                elif _overlap(box, mark, tolerance):
                    problems.append(f"{name} covers {what} in axes {ax.get_title()!r}")
        for text in figure_texts(figure):
            if _overlap(box, text.get_window_extent(renderer), tolerance):
                problems.append(f"{name} covers the text {text.get_text()!r}")
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1:]:
            if _overlap(box_a, box_b, tolerance):
                problems.append(f"{_describe(a)} and {_describe(b)} overlap")
    return problems


def clipped_texts(dashboard, tolerance: float = 1.0) -> list[str]:
    """Texts of the last render that reach outside the figure (cut off in the PNG)."""
    renderer = dashboard.canvas.get_renderer()
    page = dashboard.figure.bbox
    out = []
    for text in figure_texts(dashboard.figure):
        box = text.get_window_extent(renderer)
        if (box.x0 < page.x0 - tolerance or box.y0 < page.y0 - tolerance or box.x1 > page.x1 + tolerance
                or box.y1 > page.y1 + tolerance):
            out.append(f"{text.get_text()!r} at {tuple(round(v) for v in box.extents)}")
    return out
