# JupyterLab as `make lab` and Binder start it for this course (loaded through
# JUPYTER_CONFIG_PATH; see the Makefile and binder/start). Learners also get
# learner/ (nbgrader's authoring tools off); `make lab INSTRUCTOR=1` leaves it out.
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Serve the whole repository, so the lessons (course/) and the learner's own
# copies of the assignments (my-work/) are both one click away, and open the
# start page: the URL the server prints is this one.
c.ServerApp.root_dir = str(ROOT)
c.LabApp.default_url = "/lab/tree/course/00_start_here.ipynb"

# Lessons are saved without outputs, so running them leaves nothing for git to
# see and `git pull` keeps working; the file browser hides what a learner never opens.
c.ServerApp.contents_manager_class = "course.lab.CourseContentsManager"
c.FileContentsManager.pre_save_hook = "course.lab.save_lessons_without_outputs"

# A terminal whose `python` is the one running this server (the project's .venv),
# whatever the user's shell start-up files put first on PATH.
os.environ["COURSE_PYTHON_BIN"] = str(Path(sys.executable).parent)
_bash = shutil.which("bash")
if _bash:
    c.ServerApp.terminado_settings = {
        "shell_command": [_bash, "--rcfile", str(ROOT / ".jupyter" / "terminal.bashrc"), "-i"]}

# No network look-ups from the learner's browser.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
