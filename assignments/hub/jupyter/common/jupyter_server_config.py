# Every hub user's JupyterLab, set up as `make lab` sets it up (.jupyter/jupyter_server_config.py), with the
# user's home as its root: the lessons are in ~/course (copied there at the first start), the assignments
# nbgrader fetches in ~/<course id>/. Loaded through JUPYTER_CONFIG_PATH (jupyterhub_config.py sets it).
from pathlib import Path

from course.lab import configure

# Open the start page when the lessons are there.
if (Path.home() / "course" / "00_start_here.ipynb").is_file():
    c.LabApp.default_url = "/lab/tree/course/00_start_here.ipynb"

configure(c, Path(__file__).resolve().parent / "terminal.bashrc")
