"""What the dashboard test modules share: the PNG signature, control extremes, and settings that make every control matter."""

import ipywidgets as widgets

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Settings under which every control of a dashboard has a visible effect: the timeout slider does
#: nothing while the timeout is off; lesson 03's custom-threshold sliders act only on the custom
#: breaker, the pool size only on separate pools, the hedge delay only with hedging on, and K only
#: with throttling on.
CONTEXT = {"slow_dependency": {"timeout_on": True}, "breaker": {"preset": "custom"},
           "bulkhead": {"pools": "separate"}, "tail_at_scale": {"hedge": True}, "overload": {"throttle": True}}


def extremes(control):
    """The two ends of a control's range."""
    if isinstance(control, widgets.Checkbox):
        return False, True
    if isinstance(control, widgets.Dropdown):
        values = [value for _, value in control.options]
        return values[0], values[-1]
    return control.min, control.max
