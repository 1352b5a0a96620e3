# Start-up file of the JupyterLab terminal (see jupyter_server_config.py): the
# user's own settings first, then the course's Python in front of PATH, so
# `python -m autograder ...` runs with the packages the course installed.
if [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi
if [ -n "${COURSE_PYTHON_BIN:-}" ]; then export PATH="$COURSE_PYTHON_BIN:$PATH"; fi
