# JupyterLab as `make lab` and Binder start it for this course (loaded through
# JUPYTER_CONFIG_PATH; see the Makefile and binder/start). Learners also get
# learner/ (nbgrader's authoring tools off); `make lab INSTRUCTOR=1` leaves it out.
from pathlib import Path

from course.lab import configure

ROOT = Path(__file__).resolve().parent.parent

# Serve the whole repository, so the lessons (course/) and the learner's own
# copies of the assignments (my-work/) are both one click away, and open the
# start page: the URL the server prints is this one.
c.ServerApp.root_dir = str(ROOT)
c.LabApp.default_url = "/lab/tree/course/00_start_here.ipynb"

# Lessons saved without outputs (running them leaves nothing for git to see, so
# `git pull` keeps working), the file browser tidy, the terminal's python the course's.
configure(c, ROOT / ".jupyter" / "terminal.bashrc")
