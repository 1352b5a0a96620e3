"""Command line: ``python -m autograder {fetch,check,cohort grade,hub config} ...`` (``--help`` on each).

A learner's two commands: ``fetch resilience`` writes their copy to
``my-work/resilience/``, ``check resilience`` grades it (``check PATH`` grades any notebook).

Exit status: 0 when the command did its job (``check`` exits 0 whenever it
could grade, even at 0 points); 2 with a one-paragraph message on stderr when
it could not (a missing or broken notebook, an unknown assignment, nbgrader
failing, a refusal to overwrite a learner's file); 2 also for usage errors.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from . import AutograderError

EXIT_CANNOT = 2


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="nbgrader, set up for this course: fetch an assignment, check your work, grade a cohort.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{fetch,check,cohort,hub}")

    fetch = commands.add_parser(
        "fetch", help="write your copy of an assignment (the student version) into my-work/",
        description="Write nbgrader's student version of an assignment (solutions and hidden tests "
                    "removed) to DEST/<id>/. Never overwrites your files unless --force.")
    fetch.add_argument("assignment", metavar="ID", help="assignment id, e.g. resilience")
    fetch.add_argument("--dest", type=Path, default=None,
                       help="where to put it (default: my-work/ at the top of the course, or in the current "
                            "directory when run outside the course)")
    fetch.add_argument("--force", action="store_true",
                       help="replace existing files (each is kept as a .backup copy first)")

    check = commands.add_parser(
        "check", help="grade your notebook as the instructor would, hidden tests included",
        description="Grade a notebook with nbgrader in a throwaway course, hidden tests included. "
                    "Prints each question's points and why any failed; the last line is 'score: X / Y' "
                    "(autograded points). Writes feedback HTML to feedback/ beside the notebook.")
    check.add_argument("notebook", metavar="NOTEBOOK|ID",
                       help="the notebook to grade, or an assignment id for your copy in my-work/ "
                            "(e.g. resilience)")
    check.add_argument("--assignment", metavar="ID",
                       help="assignment id (default: from the file or folder name, or the notebook's cells)")
    check.add_argument("--timeout", type=_positive_int, metavar="SECONDS",
                       help="seconds each cell may run before it is interrupted (default: 30)")
    check.add_argument("--no-feedback", action="store_true", help="do not write the feedback HTML")

    cohort = commands.add_parser("cohort", help="instructor commands for an nbgrader course directory")
    cohort_commands = cohort.add_subparsers(dest="cohort_command", required=True, metavar="{grade}")
    grade = cohort_commands.add_parser(
        "grade", help="autograde every submission in parallel, then feedback, export and a report",
        description="Autograde every submitted/<student>/<ID>/ of an nbgrader course in parallel worker "
                    "processes, record the grades in the course's gradebook, generate feedback (hidden "
                    "tests removed), export grades.csv, and write reports/<ID>_report.csv and "
                    "reports/<ID>_report.png.")
    grade.add_argument("course_dir", type=Path, metavar="COURSE_DIR")
    grade.add_argument("--assignment", metavar="ID",
                       help="assignment id (default: the only assignment in source/)")
    grade.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                       help=f"worker processes (default: the number of CPUs, {os.cpu_count()})")
    grade.add_argument("--timeout", type=_positive_int, metavar="SECONDS",
                       help="seconds each cell may run (default: the course's setting, else 30)")
    grade.add_argument("--submission-timeout", type=_positive_int, metavar="SECONDS",
                       help="wall-clock limit for one submission (default: cells x cell timeout + 120)")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    grade.add_argument("--no-sandbox", action="store_true",
                       help="run learner code WITHOUT the sandbox (bubblewrap): only on a machine that cannot "
                            "build it, for submissions you trust; their code then runs with your permissions")

    hub = commands.add_parser("hub", help="instructor commands for a cohort on JupyterHub")
    hub_commands = hub.add_subparsers(dest="hub_command", required=True, metavar="{config}")
    config = hub_commands.add_parser(
        "config", help="write a JupyterHub configuration for a course",
        description="Write jupyterhub_config.py, the course directory's nbgrader_config.py, a roster and the "
                    "users' JupyterLab layers into OUT (see assignments/README.md, 'Cohort on JupyterHub').")
    config.add_argument("--course-id", required=True, metavar="ID", help="nbgrader's course id, e.g. mup-2026")
    config.add_argument("--instructors", required=True, metavar="USER",
                        help="the instructor's Unix user name (one: the grader account, whose server runs formgrader)")
    config.add_argument("--students", default="", metavar="USER,USER,...", help="the students' Unix user names")
    config.add_argument("--roster", type=Path, metavar="CSV",
                        help="or/and an nbgrader roster (id,first_name,last_name,email,lms_user_id): its ids are "
                             "students too")
    config.add_argument("--out", type=Path, required=True, metavar="DIR", help="where to write the files")
    config.add_argument("--auth", default="pam", metavar="{pam,shared-password}",
                        help="pam (default): the machine's accounts; shared-password: one password for trials")
    config.add_argument("--exchange", default=None, metavar="DIR", help="nbgrader's exchange (default "
                        "/srv/nbgrader/exchange)")
    config.add_argument("--course-dir", default=None, metavar="DIR",
                        help="the course directory, inside the instructor's home (default ~INSTRUCTOR/ID)")
    config.add_argument("--user-env", default=None, metavar="DIR",
                        help="the Python environment the users' servers run from (default: this one, "
                             f"{sys.prefix}); it must be readable by every user")
    config.add_argument("--ip", default="", help="address the hub listens on (default: all)")
    config.add_argument("--port", type=int, default=8000, help="port the hub listens on (default 8000)")
    config.add_argument("--force", action="store_true", help="replace files already in OUT")
    return parser


def _hub_config(args, argv) -> None:
    from .hub import DEFAULT_EXCHANGE, HubConfigError, HubSettings, describe, read_roster, split_names, write_hub_config

    instructors = split_names(args.instructors)
    if len(instructors) != 1:
        raise HubConfigError(f"--instructors {args.instructors!r}: give exactly one user, the course's grader "
                             "account (nbgrader's setup for several graders is a shared grader account; see the "
                             "guide)")
    students = split_names(args.students) + (read_roster(args.roster) if args.roster else [])
    settings = HubSettings(course_id=args.course_id, instructor=instructors[0], students=students, auth=args.auth,
                           exchange=args.exchange or DEFAULT_EXCHANGE, course_dir=args.course_dir, ip=args.ip,
                           port=args.port)
    if args.user_env:
        settings.user_env = args.user_env
    written = write_hub_config(settings, args.out, force=args.force,
                               command_args=" ".join(shlex.quote(a) for a in argv[2:]))
    print(describe(written, settings))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if __name__ == "__main__":  # our own process (not a test calling main()): start up faster
        from .nbgrader_setup import skip_slow_optional_imports

        skip_slow_optional_imports()
    try:
        if args.command == "fetch":
            from .fetch import describe, fetch

            print(describe(fetch(args.assignment, args.dest, force=args.force)))
        elif args.command == "check":
            from .check import check, find_notebook, format_report

            notebook = find_notebook(args.notebook)
            print(f"Checking {notebook} with nbgrader (this takes a few seconds)...", file=sys.stderr,
                  flush=True)
            outcome = check(notebook, args.assignment, timeout=args.timeout,
                            write_feedback=not args.no_feedback)
            print(format_report(outcome))
        elif args.command == "cohort":
            from .cohort import describe, grade_cohort

            result = grade_cohort(args.course_dir, args.assignment, workers=args.workers, timeout=args.timeout,
                                  submission_timeout=args.submission_timeout, progress=not args.no_progress,
                                  sandbox=not args.no_sandbox)
            print(describe(result))
        elif args.command == "hub":
            _hub_config(args, argv)
    except AutograderError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CANNOT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
