"""The cohort report: ``reports/<assignment>_report.csv`` and ``reports/<assignment>_report.png``.

The CSV has one row per submission found in ``submitted/``, graded or not:
``student, status, score, max_score``, one column of points per autograded
question (its ``grade_id``), and ``reason`` (for a graded submission, each
question it lost with the error's last line; for a failed one, why nbgrader
could not grade it; its score is then 0), ``flags`` (what an instructor
should look at: a submission that changed the grader's machinery or used the
course's own implementation, :mod:`autograder.flags`), and ``seconds`` (the
worker's wall time on it). Scores are autograded points only; hand-graded answers are
left to formgrader.

The figure has three panels: the distribution of total scores, the outcome
of every autograded question (full, partial or no points, per question), and
how often each failure reason occurred.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from .results import SubmissionResult, failure_category, fmt_points

FIELDS_BEFORE = ["student", "status", "score", "max_score"]
FIELDS_AFTER = ["reason", "flags", "seconds"]


def row_reason(sub: SubmissionResult) -> str:
    """The ``reason`` column: why the submission failed, or what each lost question said."""
    if sub.status != "graded":
        return sub.reason
    return "; ".join(f"{q.grade_id}: {q.reason or 'lost points'}" for q in sub.failed_questions())


def write_csv(path: Path, submissions: list[SubmissionResult], questions: dict[str, float]) -> Path:
    """Write the report CSV; ``questions`` maps each autograded grade_id to its points, in notebook order."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    max_score = sum(questions.values())
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS_BEFORE + list(questions) + FIELDS_AFTER)
        for sub in submissions:
            writer.writerow([sub.student, sub.status, fmt_points(sub.score), fmt_points(max_score)]
                            + [fmt_points(sub.earned(gid)) for gid in questions]
                            + [row_reason(sub), "; ".join(sub.flags),
                               "" if sub.seconds is None else f"{sub.seconds:.1f}"])
    return path


def failure_counts(submissions: list[SubmissionResult]) -> Counter:
    """How often each failure category occurred: whole submissions not graded, and lost questions."""
    counts: Counter = Counter()
    for sub in submissions:
        if sub.status != "graded":
            counts[failure_category(sub.reason, whole_submission=True)] += 1
        else:
            for q in sub.failed_questions():
                counts[failure_category(q.reason, whole_submission=False)] += 1
    return counts


def draw_figure(path: Path, submissions: list[SubmissionResult], questions: dict[str, float],
                assignment: str) -> Path:
    """Draw the three-panel cohort figure and save it as a PNG."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, nothing global
    from matplotlib.ticker import MaxNLocator

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(submissions)
    max_score = sum(questions.values())
    ids = list(questions)
    fig = Figure(figsize=(max(12, 4 + 0.45 * len(ids) + 6), 5.5), layout="constrained")
    totals_ax, questions_ax, reasons_ax = fig.subplots(1, 3, width_ratios=[1, max(1.5, 0.12 * len(ids) + 0.5), 1.2])

    scores = [sub.score for sub in submissions]
    bins = min(20, max(5, int(max_score) + 1)) if max_score else 5
    totals_ax.hist(scores, bins=bins, range=(0, max_score or 1), color="#4c72b0", edgecolor="white")
    totals_ax.set_xlabel(f"autograded score (out of {fmt_points(max_score)})")
    totals_ax.set_ylabel("submissions")
    totals_ax.set_title("Total scores")
    totals_ax.yaxis.set_major_locator(MaxNLocator(integer=True))

    full, partial, zero = [], [], []
    for gid in ids:
        earned = [sub.earned(gid) for sub in submissions]
        full.append(sum(e >= questions[gid] for e in earned))
        zero.append(sum(e <= 0 for e in earned))
        partial.append(n - full[-1] - zero[-1])
    x = range(len(ids))
    questions_ax.bar(x, full, color="#55a868", label="full points")
    questions_ax.bar(x, partial, bottom=full, color="#dd8452", label="partial")
    questions_ax.bar(x, zero, bottom=[a + b for a, b in zip(full, partial)], color="#c44e52", label="no points")
    questions_ax.set_xticks(list(x), [f"{gid} ({fmt_points(questions[gid])})" for gid in ids],
                            rotation=60, ha="right", fontsize=8)
    questions_ax.set_xlabel("autograded question (grade_id, points)")
    questions_ax.set_ylabel("submissions")
    questions_ax.set_title("Points per question")
    questions_ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    questions_ax.yaxis.set_major_locator(MaxNLocator(integer=True))

    counts = failure_counts(submissions)
    if counts:
        labels, values = zip(*sorted(counts.items(), key=lambda kv: (kv[1], kv[0])))
        colours = ["#c44e52" if label.startswith("not graded") else "#8172b3" for label in labels]
        reasons_ax.barh(range(len(labels)), values, color=colours)
        reasons_ax.set_yticks(range(len(labels)), labels, fontsize=8)
    else:
        reasons_ax.text(0.5, 0.5, "no failures", ha="center", va="center", transform=reasons_ax.transAxes)
        reasons_ax.set_yticks([])
    reasons_ax.set_xlabel("count (red: submissions not graded)")
    reasons_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    reasons_ax.set_ylabel("failure reason")
    reasons_ax.set_title("Why points were lost")

    graded = sum(sub.status == "graded" for sub in submissions)
    mean = sum(scores) / n if n else 0.0
    fig.suptitle(f"{assignment}: {n} submissions, {graded} graded, {n - graded} not graded; "
                 f"mean {mean:.1f} / {fmt_points(max_score)}")
    fig.savefig(path, dpi=110)
    return path
