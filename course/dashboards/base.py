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
"""

from __future__ import annotations

import io
import time

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from course.sim._gc import gc_paused

#: Figure resolution for the PNG shown in the notebook.
DPI = 80


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
        pays for it.
        """
        if not self.layout_done:
            self._reuse_solved_layout()
        buffer = io.BytesIO()
        self.canvas.print_png(buffer)
        if not self.layout_done:
            self.figure.set_layout_engine("none")
            self.layout_done = True
            Dashboard._solved_layouts[self._layout_key()] = self._layout_positions()
        return buffer.getvalue()

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
