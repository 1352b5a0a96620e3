"""Implementations that learners' tests are graded against, one package per assignment (wheat and chaff).

``autograder.implementations.<assignment id>`` lists its parts in ``PARTS``
(:class:`autograder.wheat_chaff.SuitePart` or :class:`~autograder.wheat_chaff.PactPart`);
:mod:`autograder.wheat_chaff_grade` finds them there by the assignment's id.
The implementations are source files read by the grader, compiled and run in
processes of their own; nothing here is imported by a learner's kernel.
"""
