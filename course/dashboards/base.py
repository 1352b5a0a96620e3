"""The machinery every lesson dashboard shares: controls, one figure, fast redraws.

A dashboard owns a single matplotlib :class:`~matplotlib.figure.Figure` drawn
with the Agg canvas (no pyplot, so nothing is auto-displayed twice). Its
artists are created once in :meth:`Dashboard.build_figure`; each update runs the
model and only changes artist data, then re-encodes the PNG shown in an
:class:`ipywidgets.Image`. Controls use ``continuous_update=False``, so a drag
costs one update, not fifty.

Subclasses provide ``controls()``, ``build_figure()``, ``simulate(**params)``
and ``draw(result)``. :meth:`Dashboard.update` is the whole update path and can
be called without a browser, which is how the tests and the benchmark drive it.

Every figure is built, drawn and rendered under :data:`STYLE`, so text sizes
live here and nowhere else; legends go outside the axes with
:func:`legend_below` or :func:`legend_beside`, where no data can reach them.
"""

from __future__ import annotations

import io
import time

import ipywidgets as widgets
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.transforms import ScaledTranslation

from course.sim._gc import gc_paused

#: Figure resolution for the PNG shown in the notebook. The image is shown at most figsize × DPI pixels
#: wide (see :meth:`Dashboard.__init__`), so at that size one point of text is DPI / 72 = 1.11 px.
DPI = 80

#: Text sizes (points) for every dashboard figure. 10 pt is 11.1 px at :data:`DPI`, about JupyterLab's
#: smallest interface text (--jp-ui-font-size0, 10.8 px); notebook prose is 14 px.
STYLE = {
    "font.size": 10.0,
    "axes.titlesize": 10.5,
    "figure.titlesize": 10.5,
    "axes.labelsize": 10.0,
    "xtick.labelsize": 10.0,
    "ytick.labelsize": 10.0,
    "legend.fontsize": 10.0,
    "legend.title_fontsize": 10.0,
}

#: Line height of a line of text, as a multiple of its size (DejaVu Sans with matplotlib's spacing).
_LINE = 1.2
#: Space between a legend and what it sits next to (points).
_LEGEND_GAP = 4.0


def _points(size) -> float:
    return FontProperties(size=size).get_size_in_points()


def _depth_below_axes(ax) -> float:
    """How far (points) the x tick labels and the x label reach below the axes, from the style's sizes.

    Without x tick labels, the lowest y tick label still pokes half its height below the axes.
    """
    rc = matplotlib.rcParams
    depth = 0.6 * _points(rc["ytick.labelsize"])
    if ax.xaxis.get_tick_params().get("labelbottom", True):
        lines = max([label.get_text().count("\n") + 1 for label in ax.get_xticklabels()] or [1])
        depth = rc["xtick.major.size"] + rc["xtick.major.pad"] + lines * _LINE * _points(rc["xtick.labelsize"])
    if ax.get_xlabel():
        depth += rc["axes.labelpad"] + (ax.get_xlabel().count("\n") + 1) * _LINE * _points(rc["axes.labelsize"])
    return depth


def _legend(ax, handles, labels, **kwargs):
    if handles is not None and labels is None:
        labels = [handle.get_label() for handle in handles]
    args = () if handles is None else (handles, labels)
    kwargs.setdefault("frameon", False)
    return ax.legend(*args, borderaxespad=0, **kwargs)


def legend_below(ax, handles=None, labels=None, *, ncols: int = 1, **kwargs):
    """Put ``ax``'s legend centred under it, below its tick labels and x label, where no data can go.

    Call it once the x label and any fixed tick labels are set: the legend's distance from the axes is
    worked out from them at the style's font sizes, in points, so it holds however the layout sizes the
    axes. Constrained layout makes room for it on the first render.
    """
    shift = ScaledTranslation(0, -(_depth_below_axes(ax) + _LEGEND_GAP) / 72, ax.figure.dpi_scale_trans)
    return _legend(ax, handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0),
                   bbox_transform=ax.transAxes + shift, ncols=ncols, **kwargs)


def legend_beside(ax, handles=None, labels=None, *, gap: float = _LEGEND_GAP, centre: bool = False, **kwargs):
    """Put ``ax``'s legend to the right of it, ``gap`` points away, level with its top (or its middle).

    An axes with a twin on the right needs a ``gap`` that clears the twin's tick labels and y label.
    """
    shift = ScaledTranslation(gap / 72, 0, ax.figure.dpi_scale_trans)
    return _legend(ax, handles, labels, loc="center left" if centre else "upper left",
                   bbox_to_anchor=(1, 0.5 if centre else 1), bbox_transform=ax.transAxes + shift, **kwargs)


def plural(count: int, singular: str, many: str | None = None) -> str:
    """The noun to put after ``count``: ``singular`` for 1, else ``many`` (by default ``singular + "s"``)."""
    return singular if count == 1 else (many or singular + "s")


class Dashboard:
    """Base class: wires controls to a model and redraws one figure in place."""

    #: Figure size in inches.
    figsize = (10.0, 6.5)

    def __init__(self, **overrides):
        self.controls_by_name: dict[str, widgets.ValueWidget] = self.controls()
        for name, value in overrides.items():
            if name not in self.controls_by_name:
                raise ValueError(f"{name!r} is not a control of {type(self).__name__}; "
                                 f"valid controls: {', '.join(self.controls_by_name)}")
            self.controls_by_name[name].value = value
        with matplotlib.rc_context(STYLE):
            self.figure = Figure(figsize=self.figsize, dpi=DPI, layout="constrained")
            self.canvas = FigureCanvasAgg(self.figure)
            self.build_figure()
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="100%", max_width=f"{int(self.figsize[0] * DPI)}px"))
        self.status = widgets.HTML()
        self.result = None
        self.timings: dict[str, float] = {}
        self.layout_done = False
        for control in self.controls_by_name.values():
            control.observe(self._on_change, names="value")
        self.update()

    # -- to be provided by each dashboard -------------------------------------------
    def controls(self) -> dict:
        """Name -> ipywidgets control. Names must match the keyword arguments of :meth:`simulate`."""
        raise NotImplementedError

    def build_figure(self) -> None:
        """Create the axes and every artist once, on ``self.figure``."""
        raise NotImplementedError

    def simulate(self, **params):
        """Run the model for these control values and return its result."""
        raise NotImplementedError

    def draw(self, result) -> None:
        """Put ``result`` into the existing artists (set_data, set_text, set_ylim...)."""
        raise NotImplementedError

    def describe(self, result) -> str:
        """A one-line HTML summary shown under the plot."""
        return ""

    # -- shared machinery -----------------------------------------------------------
    @property
    def params(self) -> dict:
        """The current control values."""
        return {name: control.value for name, control in self.controls_by_name.items()}

    def set(self, **values) -> None:
        """Move several controls at once and update once (what the tests and guided experiments use)."""
        for name in values:
            if name not in self.controls_by_name:
                raise ValueError(f"{name!r} is not a control of {type(self).__name__}; "
                                 f"valid controls: {', '.join(self.controls_by_name)}")
        self._muted = True
        try:
            for name, value in values.items():
                self.controls_by_name[name].value = value
        finally:
            self._muted = False
        self.update()

    _muted = False

    def _on_change(self, _change) -> None:
        if not self._muted:
            self.update()

    def update(self):
        """Simulate at the current control values, redraw the figure in place, and return the result."""
        started = time.perf_counter()
        # A run allocates (and drops) tens of thousands of objects. With the collector running, the
        # survivors of a few passes get promoted to the oldest generation and, in a kernel already holding
        # every dashboard's figure and widgets, soon set off a full collection that costs far more than
        # the run itself. Paused, they are freed by reference counting as the run ends.
        with gc_paused():
            self.result = self.simulate(**self.params)
        simulated = time.perf_counter()
        with matplotlib.rc_context(STYLE):  # artists a draw creates (legends, texts) take the style's sizes
            self.draw(self.result)
        self.image.value = self.render_png()
        self.status.value = self.describe(self.result)
        finished = time.perf_counter()
        self.timings = {"simulate": simulated - started, "total": finished - started}
        return self.result

    #: Layouts already solved, by dashboard class and figure size: the positions (in
    #: figure coordinates) of every axes and figure-level title, in creation order.
    _solved_layouts: dict = {}

    def render_png(self) -> bytes:
        """Render the figure to PNG bytes.

        Constrained layout is solved on the first render and then frozen: the
        axes do not move when only the data changes, and later renders skip the
        layout pass. The solved layout is also reused by later dashboards of the
        same class and size (a lesson builds several), so only the first one
        pays for it. If a later render finds a label, an edge tick label or a
        legend reaching outside the figure (tick labels grew wider, a title got
        longer), the layout is solved again for that render and frozen anew. How
        often depends on which settings came before (and on the layout other
        dashboards of the class left behind), so it is not capped; only
        relayouts that fail to help are (:attr:`MAX_FUTILE_RELAYOUTS`).
        """
        if not self.layout_done:
            self._reuse_solved_layout()
        png = self._print_png()
        if self.layout_done and self._futile_relayouts < self.MAX_FUTILE_RELAYOUTS and self._sticks_out():
            self.figure.set_layout_engine("constrained")
            self.layout_done = False
            png = self._print_png()
            if self._sticks_out():  # the layout cannot make room: stop paying for it after a few tries
                self._futile_relayouts += 1
        if not self.layout_done:
            self.figure.set_layout_engine("none")
            self.layout_done = True
            Dashboard._solved_layouts[self._layout_key()] = self._layout_positions()
        return png

    #: How many renders may solve the layout again without fixing what stuck out before a dashboard stops
    #: trying (see :meth:`render_png`); a relayout that works never counts.
    MAX_FUTILE_RELAYOUTS = 3
    _futile_relayouts = 0

    def _print_png(self) -> bytes:
        buffer = io.BytesIO()
        with matplotlib.rc_context(STYLE):  # ticks the render adds take their size from the style
            self.canvas.print_png(buffer)
        return buffer.getvalue()

    def _sticks_out(self, tolerance: float = 1.0) -> bool:
        """Whether the last render put a title, an axis label, an axis's first or last tick label, or a
        legend partly outside the figure."""
        renderer = self.canvas.get_renderer()
        page = self.figure.bbox
        texts = [text for text in self._figure_titles() if text is not None]
        for ax in self.figure.axes:
            texts += [ax.title, ax.xaxis.label, ax.yaxis.label]
            for axis in (ax.xaxis, ax.yaxis):
                low, high = sorted(axis.get_view_interval())
                shown = [tick for tick in axis.get_major_ticks() if low <= tick.get_loc() <= high]
                for tick in shown[:1] + shown[-1:]:
                    texts += [tick.label1, tick.label2]
        boxes = [text.get_window_extent(renderer) for text in texts if text.get_visible() and text.get_text()]
        boxes += [legend.get_window_extent(renderer) for legend in
                  [ax.get_legend() for ax in self.figure.axes] + list(self.figure.legends) if legend is not None]
        return any(box.x0 < page.x0 - tolerance or box.y0 < page.y0 - tolerance or box.x1 > page.x1 + tolerance
                   or box.y1 > page.y1 + tolerance for box in boxes)

    def _layout_key(self) -> tuple:
        return type(self), tuple(self.figsize), len(self.figure.axes)

    def _figure_titles(self) -> list:
        fig = self.figure
        return [fig._suptitle, fig._supxlabel, fig._supylabel]

    def _layout_positions(self) -> tuple:
        axes = [ax.get_position(original=True).frozen() for ax in self.figure.axes]
        titles = [None if text is None else text.get_position() for text in self._figure_titles()]
        return axes, titles

    def _reuse_solved_layout(self) -> None:
        solved = Dashboard._solved_layouts.get(self._layout_key())
        if solved is None:
            return
        axes, titles = solved
        self.figure.set_layout_engine("none")
        for ax, position in zip(self.figure.axes, axes):
            ax.set_position(position)
            # set_position takes an axes out of constrained layout for good; a later relayout must move it.
            ax.set_in_layout(True)
        for text, position in zip(self._figure_titles(), titles):
            if text is not None and position is not None:
                text.set_position(position)
        self.layout_done = True

    def naive_update(self) -> bytes:
        """What an ``@interact`` callback typically does, for the benchmark to compare against.

        Simulate, build a brand-new figure with all its artists, draw, and save
        with a tight bounding box. The dashboard's own state is left untouched.
        """
        result = self.simulate(**self.params)
        saved = self.figure, self.canvas, self.__dict__.copy()
        try:
            with matplotlib.rc_context(STYLE):
                self.figure = Figure(figsize=self.figsize, dpi=DPI, layout="constrained")
                self.canvas = FigureCanvasAgg(self.figure)
                self.build_figure()
                self.draw(result)
                buffer = io.BytesIO()
                self.figure.savefig(buffer, format="png", bbox_inches="tight")
            return buffer.getvalue()
        finally:
            self.__dict__.clear()
            self.__dict__.update(saved[2])

    def widget(self) -> widgets.Widget:
        """The controls, the plot and the summary line, ready to display."""
        controls = list(self.controls_by_name.values())
        return widgets.VBox([widgets.HBox([widgets.VBox(controls[::2]), widgets.VBox(controls[1::2])]),
                             self.image, self.status])

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget())
