"""The course's autograder: nbgrader, configured and driven for two audiences.

Self-paced learners have no instructor, so they fetch nbgrader's student
version of an assignment and check their notebook the way an instructor's
``nbgrader autograde`` would (hidden tests included, their source never
shown). Instructors run an ordinary nbgrader course and use ``cohort grade``
to autograde every submission in parallel, with a report that names every
submission nbgrader could not grade.

Everything that grades is nbgrader: its ``generate_assignment``,
``autograde``, ``generate_feedback`` and ``export`` through
:class:`nbgrader.apps.NbGraderAPI` and the export app, and its gradebook. This
package adds configuration (:mod:`autograder.config`), preprocessors
(:mod:`autograder.guard`, :mod:`autograder.feedback`, :mod:`autograder.safe_feedback`,
:mod:`autograder.replay`), a kernel manager (:mod:`autograder.kernel`) and orchestration.

Commands (``python -m autograder --help``):

* ``fetch ID [--dest DIR]`` (:mod:`autograder.fetch`)
* ``check NOTEBOOK [--assignment ID]`` (:mod:`autograder.check`)
* ``cohort grade COURSE_DIR [--assignment ID] [--workers N] [--no-sandbox]`` (:mod:`autograder.cohort`)

Learner code is treated as hostile: every kernel runs in a sandbox
(:mod:`autograder.sandbox`), the tests are guarded against what the learner's
cells installed (:mod:`autograder.guard`), and feedback cannot carry hidden
tests or scripts (:mod:`autograder.safe_feedback`).

Modules, one job each:

===========================  ===========================================================
:mod:`~.__main__`            the command line (argparse)
:mod:`~.fetch`               ``fetch``: write a learner's copy (nbgrader's student version)
:mod:`~.check`               ``check``: grade one notebook in a throwaway course
:mod:`~.cohort`              ``cohort grade``: parallel autograde of a course directory
:mod:`~.tasks`               the two tasks ``cohort grade`` runs in its worker processes
:mod:`~.assignments`         find the source assignments, infer a notebook's assignment
:mod:`~.nbgrader_setup`      prepare a process to drive nbgrader (PATH, gradebook setup)
:mod:`~.config`              our nbgrader configuration (timeouts, feedback, gradebook)
:mod:`~.scratch`             a throwaway nbgrader course holding one source assignment
:mod:`~.hidden`              find hidden test source, tell whether a text quotes it
:mod:`~.feedback`            the preprocessor that keeps hidden tests out of feedback
:mod:`~.safe_feedback`       feedback from a re-run without hidden tests, escaped, capped, no scripts
:mod:`~.sandbox`             the bubblewrap sandbox and limits a learner's kernel runs in
:mod:`~.kernel`              the kernel manager that starts kernels inside the sandbox
:mod:`~.guard`               nbgrader's Execute with the sandbox, the test guard, our verdict, output caps
:mod:`~.kernel_guard`        the code the guard installs in the kernel (sent as text, never imported)
:mod:`~.flags`               what the instructor's report flags (tampering, the course's own code)
:mod:`~.wheat_chaff`         grade a learner's tests against correct and buggy implementations
:mod:`~.wheat_chaff_grade`   the nbgrader preprocessors that put wheat-and-chaff verdicts in grades and feedback
:mod:`~.pact_verify_driver`  the script that verifies a learner's pact against one provider (run in the sandbox)
:mod:`~.implementations`     the wheats and chaffs of each assignment whose learners write tests
:mod:`~.replay`              the preprocessor that records a worker's execution in nbgrader
:mod:`~.rejections`          one-sentence reasons for a notebook nbgrader cannot grade, before it tries
:mod:`~.results`             per-question scores and failure reasons from the gradebook
:mod:`~.workers`             a pool of worker processes with per-task deadlines
:mod:`~.progress`            a text progress bar on stderr
:mod:`~.report`              the cohort report: CSV and figure
===========================  ===========================================================
"""

from __future__ import annotations


class AutograderError(Exception):
    """Something the user must fix; the CLI prints the message and exits with status 2."""
