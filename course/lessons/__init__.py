"""The words inside each lesson's widgets: its "Predict first" question and its self-check.

Each module is named after its notebook (``lesson01`` for ``01_slow_dependency.ipynb``)
and offers ``prediction()`` and, where the lesson has one, ``self_check()``, so
the notebooks' code cells stay one line long. Numbers in the questions are
checked by ``tests/lessons``.
"""
