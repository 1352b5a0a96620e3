"""What a learner sees of every dashboard: legends never over the data, text large enough to read at the
size the notebook shows the figure, control labels that fit, and words that agree with their numbers.

Each dashboard is drawn at every setting of :func:`tests.lessons.dashboard_helpers.picture_settings`
(its defaults, every control at each end, the sliders' corners, crowded settings, and every setting a
lesson notebook uses), and the last render is inspected in display pixels.
"""

from __future__ import annotations

import re

import ipywidgets as widgets
import numpy as np
import pytest
from matplotlib.font_manager import FontProperties
from matplotlib.text import Text
from matplotlib.textpath import TextToPath

from course.dashboards import ALL, base
from tests.lessons.dashboard_helpers import (CONTEXT, PNG_SIGNATURE, clipped_texts, extremes, figure_texts, legend_problems, legends,
                                             picture_settings)

#: The smallest text a figure may use, in CSS px at the size the notebook shows it: JupyterLab's
#: smallest UI text (--jp-ui-font-size0, 0.8333 × 13 px ≈ 10.8 px). Before issue 9 legends were 8 pt
#: at 80 dpi, 8.9 px.
MIN_TEXT_PX = 10.8

#: Count nouns that must not follow the number 1 (nor a bold 1: "<b>1</b> rows").
_PLURAL_AFTER_ONE = re.compile(
    r"(?<![\d.,])1(?:</b>)? (?:[a-z-]+ )?(leaves|clients|rows|events|orders|times|copies|redeliveries|repeats|"
    r"anomalies|calls|payments|items|retries|participants|requests|workers|threads|messages|probes|seconds)\b")


def _each_setting(name, d):
    defaults = dict(d.params)
    try:
        for setting in picture_settings(name, d):
            d.set(**setting)
            yield setting
    finally:
        d.set(**defaults)


def _texts(d) -> list[str]:
    """The summary line and every visible text of the figure, legends included."""
    found = [d.status.value] + [t.get_text() for t in figure_texts(d.figure)]
    for legend in legends(d.figure):
        found += [t.get_text() for t in legend.get_texts()] + [legend.get_title().get_text()]
    return found


def _key(setting: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in setting.items()))


class _DashboardPictures:
    """The picture checks for one dashboard (:attr:`name`). Each dashboard gets a subclass below, so that
    pytest-xdist (``--dist loadscope``) can draw different dashboards on different workers: drawn on one,
    they took a worker about 18 minutes."""

    name: str = ""

    @pytest.fixture(scope="class")
    @classmethod
    def named_dashboard(cls):
        return cls.name, ALL[cls.name]()

    def test_pictures_at_every_extreme(self, named_dashboard):
        """No legend covers data, text or another legend, nothing is cut off, and no "1 leaves"; and moving any
        one control from one end to the other changes the picture (both ends are among the settings drawn)."""
        name, d = named_dashboard
        defaults, context = dict(d.params), CONTEXT.get(name, {})
        problems, pictures = [], {}
        for setting in _each_setting(name, d):
            pictures[_key(setting)] = bytes(d.image.value)
            found = legend_problems(d) + [f"cut off: {t}" for t in clipped_texts(d)]
            found += [f"says {m.group(0)!r} in {text!r}"
                      for text in _texts(d) for m in _PLURAL_AFTER_ONE.finditer(text)]
            problems += [f"{name} at {setting}: {p}" for p in found]
        for control_name, control in d.controls_by_name.items():
            low, high = extremes(control)
            drawn = [pictures.get(_key({**defaults, **context, control_name: end})) for end in (low, high)]
            assert None not in drawn, f"{name}: {control_name} at {low} and {high} should both have been drawn"
            assert drawn[0].startswith(PNG_SIGNATURE) and drawn[1].startswith(PNG_SIGNATURE)
            if drawn[0] == drawn[1]:
                problems.append(f"{name}: moving {control_name} from {low} to {high} changed nothing")
        assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])


    def test_the_notebook_shows_the_figure_at_its_own_size(self, named_dashboard):
        # The image is never stretched beyond figsize × DPI pixels, so the sizes below are what a learner sees
        # whenever the output area is at least that wide (narrower, the browser scales the whole image down).
        _, d = named_dashboard
        assert d.figure.dpi == base.DPI
        assert d.image.layout.max_width == f"{int(d.figsize[0] * base.DPI)}px"
        assert tuple(d.figure.get_size_inches()) == tuple(d.figsize)


    def test_every_text_is_readable_at_display_size(self, named_dashboard):
        """Legends (entries and titles), tick labels, axis labels, titles and notes: at least MIN_TEXT_PX."""
        _, d = named_dashboard
        d.render_png()
        small = sorted({(t.get_text()[:40], round(t.get_fontsize() * base.DPI / 72, 1))
                        for t in d.figure.findobj(Text)
                        if t.get_visible() and t.get_text().strip() and t.get_fontsize() * base.DPI / 72 < MIN_TEXT_PX})
        assert not small, f"text below {MIN_TEXT_PX} px: {small}"
        kinds = {"legend": [t for lg in legends(d.figure) for t in lg.get_texts()],
                 "tick label": [t for ax in d.figure.axes for t in ax.get_xticklabels() + ax.get_yticklabels()],
                 "axis label": [a.label for ax in d.figure.axes for a in (ax.xaxis, ax.yaxis)]}
        for kind, texts in kinds.items():
            assert texts, f"no {kind} found"
            assert min(t.get_fontsize() for t in texts) * base.DPI / 72 >= MIN_TEXT_PX, kind


#: The dashboards whose pictures take longest (many controls, or a slow model), drawn first; then the others.
_SLOWEST_FIRST = ("slow_dependency", "breaker", "tail_at_scale", "bulkhead", "burn_rate", "chaos_experiment")
for _name in [*_SLOWEST_FIRST, *sorted(set(ALL) - set(_SLOWEST_FIRST))]:
    globals()[f"TestPictures_{_name}"] = type(f"TestPictures_{_name}", (_DashboardPictures,), {"name": _name})


# -- control labels ---------------------------------------------------------------------------------

#: ipywidgets' text: 13 px (--jp-widgets-font-size), in the browser's sans-serif. We measure with DejaVu Sans,
#: the usual Linux fallback and wider than Arial, Helvetica or Segoe UI, so the estimate errs on the long side:
#: it puts "Custom: minimum calls" at 153 px (truncated in a 150 px label, as reported in issue 9) and
#: "Custom: minimum c…" at 144 px (what the browser showed instead).
WIDGET_FONT = FontProperties(family="DejaVu Sans", size=13)
#: ipywidgets 8 geometry (px): the description label's right margin, and what a dropdown's <select> takes
#: from its own width (left padding 8, the arrow's 20, borders 2) and a checkbox's box and margin.
LABEL_MARGIN, SELECT_CHROME, CHECKBOX_CHROME = 8, 30, 25
#: Slack for sub-pixel rounding and font hinting.
SLACK = 2


def text_width_px(text: str) -> float:
    """The width of ``text`` at the widgets' font size, in px (an estimate: see WIDGET_FONT)."""
    return TextToPath().get_text_width_height_descent(text, WIDGET_FONT, ismath=False)[0]


def _px(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)px", value or "")
    assert match, f"expected a width in px, got {value!r}"
    return float(match.group(1))


def test_the_width_estimate_reproduces_the_reported_truncations():
    assert text_width_px("Custom: minimum calls") > 150 > text_width_px("Custom: minimum c…")
    assert text_width_px("Attempts per hop (incl. 1st)") > 170 > text_width_px("Attempts per hop (incl. …")


@pytest.mark.parametrize("name", sorted(ALL))
def test_control_labels_fit_their_boxes(name):
    """Descriptions fit ``description_width``; dropdown options fit the select; checkbox text fits its row."""
    cls = ALL[name]
    controls = cls.controls(cls.__new__(cls))
    cut = []
    for key, control in controls.items():
        width = _px(control.layout.width)
        if isinstance(control, widgets.Checkbox):
            assert control.indent is False, f"{name}.{key}: an indented checkbox wastes a label's width"
            room = width - CHECKBOX_CHROME
            if text_width_px(control.description) + SLACK > room:
                cut.append(f"{key}: {control.description!r} needs {text_width_px(control.description):.0f} px, "
                           f"has {room:.0f}")
            continue
        label = _px(control.style.description_width)
        if text_width_px(control.description) + SLACK > label:
            cut.append(f"{key}: {control.description!r} needs {text_width_px(control.description):.0f} px, "
                       f"has {label:.0f}")
        if isinstance(control, widgets.Dropdown):
            room = width - label - LABEL_MARGIN - SELECT_CHROME
            for option, _ in control.options:
                if text_width_px(option) + SLACK > room:
                    cut.append(f"{key}: option {option!r} needs {text_width_px(option):.0f} px, has {room:.0f}")
    assert not cut, f"{name}: truncated control labels:\n" + "\n".join(cut)


# -- particular pictures and words --------------------------------------------------------------------

def _ink(png: bytes, colour: str, tolerance: int = 40) -> int:
    """How many pixels of a PNG are within ``tolerance`` (per channel) of ``colour``."""
    import io

    from matplotlib.colors import to_rgb
    from matplotlib.image import imread
    pixels = (imread(io.BytesIO(png))[..., :3] * 255).astype(int)
    target = np.array([round(c * 255) for c in to_rgb(colour)])
    return int(np.count_nonzero(np.all(np.abs(pixels - target) <= tolerance, axis=-1)))


@pytest.mark.parametrize("workers", [1, 4])
def test_utilisation_mm1_line_is_visible_over_the_mmc_line(workers):
    # Lesson 00 opens this dashboard with one worker, where M/M/c is M/M/1: the lines coincide, so the M/M/1
    # line is drawn on top, in a colour of its own, and the legend says they coincide.
    d = ALL["utilisation"](rho=0.5, workers=workers)
    mm1, mmc = d.line_mm1, d.line_mmc
    assert mm1.get_zorder() > mmc.get_zorder()
    assert mm1.get_color() != mmc.get_color()
    legend = d.legend.get_texts()[0].get_text()
    assert ("same as" in legend) == (workers == 1)
    # Ink of the M/M/1 colour inside the axes, away from the legend: the dashes show.
    assert _ink(bytes(d.image.value), mm1.get_color()) > 200


def test_tail_at_scale_one_leaf_is_singular():
    d = ALL["tail_at_scale"](fanout=1)
    assert "1 leaf" in d.status.value and "1 leaves" not in d.status.value
    assert "1 leaf" in d.title_ccdf.get_text() and "leaves" not in d.title_ccdf.get_text()


def test_tail_at_scale_names_the_hedge_percentile_in_words():
    d = ALL["tail_at_scale"](hedge=True, hedge_delay_ms=23)
    assert not re.search(r"\bp\d+\.\d", d.status.value), d.status.value
    assert "of leaf calls have answered" in d.status.value


def test_delivery_counts_payments_applied_more_than_once_and_the_extra_applications():
    d = ALL["delivery"]()
    r = d.result
    extra = r.applied - r.messages
    assert extra > r.double_applied > 0  # a payment applied three times: once in double_applied, twice in extra
    status = re.sub(r"</?b>", "", d.status.value)
    assert (f"{r.applied} applications of {r.messages} payment messages, {r.double_applied} payments applied "
            f"more than once ({extra} extra)") in status
    assert f"{r.double_applied} payments applied more than once ({extra} extra)" in d.ax_bal.get_title()
    d.set(consumer="idempotent")
    status = re.sub(r"</?b>", "", d.status.value)
    n = d.result.messages
    assert f"{n} applications of {n} payment messages, no payment applied more than once" in status
