"""The learner's two commands as the start page writes them, ``fetch ID`` and ``check ID``, and the
start page's grading panel that runs the same commands for learners who never open a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.fetch import default_dest, shown
from autograder.panel import GradingPanel, grading_panel

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "AUTOGRADER_ASSIGNMENTS"}
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_the_work_folder_is_the_courses_my_work_from_anywhere_inside_the_course(tmp_path):
    assert default_dest(ROOT) == ROOT / "my-work"
    assert default_dest(ROOT / "course") == ROOT / "my-work"
    assert default_dest(ROOT / "course" / "sim") == ROOT / "my-work"
    assert default_dest(tmp_path) == tmp_path.resolve() / "my-work"


def test_paths_are_shown_as_a_learner_finds_them(tmp_path):
    assert shown(ROOT / "my-work" / "a.ipynb", cwd=ROOT) == "my-work/a.ipynb"
    assert shown(ROOT / "my-work" / "a.ipynb", cwd=ROOT / "course") == "my-work/a.ipynb"  # file browser's view
    assert shown(tmp_path / "x" / "a.ipynb", cwd=tmp_path) == "x/a.ipynb"


def test_fetch_then_check_by_id_as_the_start_page_writes_them(tmp_path):
    fetched = run_cli("fetch", "resilience", cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert "python -m autograder check resilience" in fetched.stdout
    checked = run_cli("check", "resilience", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip().splitlines()[-1] == "score: 0 / 60"
    assert (tmp_path / "my-work" / "resilience" / "feedback" / "resilience.html").is_file()


def test_check_by_id_without_a_copy_says_how_to_get_one(tmp_path):
    missing = run_cli("check", "consistency", cwd=tmp_path)
    assert missing.returncode == 2
    assert "no copy of 'consistency' yet" in missing.stderr
    assert "python -m autograder fetch consistency" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_check_of_an_unknown_name_is_still_a_missing_file(tmp_path):
    missing = run_cli("check", "resilency", cwd=tmp_path)
    assert missing.returncode == 2 and "resilency: no such file" in missing.stderr


def test_the_panel_runs_the_same_commands_and_shows_the_score(tmp_path):
    panel = grading_panel("resilience", cwd=tmp_path)
    assert panel.command("check")[1:] == ["-m", "autograder", "check", "resilience"]
    assert panel.run("fetch") == 0
    assert (tmp_path / "my-work" / "resilience" / "resilience.ipynb").is_file()
    assert "python -m autograder check resilience" in panel.transcript.value
    assert panel.run("check") == 0
    assert "score: 0 / 60" in panel.status.value
    assert panel.run("fetch") == 2  # never overwrites: says so, in the panel
    assert "did not work" in panel.status.value and "not overwriting your work" in panel.transcript.value
    assert not any(button.disabled for button in panel.buttons.values())


def test_the_panel_refuses_an_unknown_assignment_by_name():
    with pytest.raises(ValueError, match="assignment='resilency'.*valid: .*resilience"):
        GradingPanel("resilency")
    with pytest.raises(ValueError, match="unknown command 'grade'"):
        GradingPanel().command("grade")
