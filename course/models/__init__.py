"""Scenario models behind the lessons: each builds a small system in :mod:`course.sim`, runs it, and returns arrays for plotting."""
