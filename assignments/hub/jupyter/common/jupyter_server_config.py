# Every hub user's JupyterLab, set up as `make lab` sets it up (.jupyter/jupyter_server_config.py), with the
# user's home as its root: the lessons are in ~/course (copied there at the first start), the assignments
# nbgrader fetches in ~/<course id>/. Loaded through JUPYTER_CONFIG_PATH (jupyterhub_config.py sets it).
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Open the start page when the lessons are there.
if (Path.home() / "course" / "00_start_here.ipynb").is_file():
    c.LabApp.default_url = "/lab/tree/course/00_start_here.ipynb"

# Lessons are saved without outputs; the file browser hides what a learner never opens (learner layer).
c.ServerApp.contents_manager_class = "course.lab.CourseContentsManager"
c.FileContentsManager.pre_save_hook = "course.lab.save_lessons_without_outputs"

# A terminal whose `python` is the one running this server.
os.environ["COURSE_PYTHON_BIN"] = str(Path(sys.executable).parent)
_bash = shutil.which("bash")
if _bash:
    c.ServerApp.terminado_settings = {"shell_command": [_bash, "--rcfile", str(HERE / "terminal.bashrc"), "-i"]}

# No network look-ups from the browser.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
