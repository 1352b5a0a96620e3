"""``python -m autograder hub config``: the files it writes and the arguments it refuses (no hub runs here)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from traitlets.config import Config

from autograder.__main__ import main
from autograder.hub import HubConfigError, HubSettings, render, write_hub_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tmp_path():
    """A temporary folder other users can enter (pytest's own lies under a private one, which the generator
    rightly refuses for files every user's server must read)."""
    path = Path(tempfile.mkdtemp(prefix="mup-hub-config-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def user_env(tmp_path):
    """A stand-in users' environment (a bin/python every user can run)."""
    env = tmp_path / "env"
    (env / "bin").mkdir(parents=True)
    os.symlink("/bin/sh", env / "bin" / "python")
    return env


@pytest.fixture
def out(tmp_path):
    tmp_path.chmod(0o755)
    return tmp_path / "hub"


def settings(user_env, **changes) -> HubSettings:
    base = dict(course_id="mup-2026", instructor="alice", students=["bob", "carol"], user_env=str(user_env))
    return HubSettings(**{**base, **changes})


def load_hub_config(path: Path) -> Config:
    """What JupyterHub would read from the generated file (its pre-spawn hook and exchange set-up included)."""
    c = Config()
    namespace = {"get_config": lambda: c, "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return c, namespace


def test_writes_the_hub_the_course_and_both_layers(user_env, out, tmp_path, monkeypatch):
    exchange = tmp_path / "exchange"
    written = write_hub_config(settings(user_env, exchange=str(exchange)), out)
    names = {p.relative_to(out).as_posix() for p in written}
    assert {"jupyterhub_config.py", "nbgrader_config.py", "students.csv", "jupyter/common/nbgrader_config.py",
            "jupyter/common/jupyter_server_config.py", "jupyter/instructor/nbgrader_config.py",
            "jupyter/learner/jupyter_server_config.json", "jupyter/learner/labconfig/page_config.json"} <= names
    assert all(p.stat().st_mode & 0o004 for p in written)  # every user's server reads them
    c, ns = load_hub_config(out / "jupyterhub_config.py")
    assert c.JupyterHub.authenticator_class == "pam"
    assert c.JupyterHub.spawner_class == "localprocess"
    assert c.Authenticator.allowed_users == {"alice", "bob", "carol"}
    assert c.Authenticator.admin_users == {"alice"}
    assert c.Spawner.cmd[0] == str(user_env / "bin" / "python") and c.Spawner.cmd[1:] == ["-m", "jupyterhub.singleuser"]
    assert oct(exchange.stat().st_mode & 0o7777) == "0o1777"  # the exchange: sticky, everyone may write

    class Spawner:  # what the environment's callable is given
        def __init__(self, name):
            self.user = type("User", (), {"name": name})()

    learner = c.Spawner.environment["JUPYTER_CONFIG_PATH"](Spawner("bob")).split(os.pathsep)
    instructor = c.Spawner.environment["JUPYTER_CONFIG_PATH"](Spawner("alice")).split(os.pathsep)
    assert learner == [str(out.resolve() / "jupyter/learner"), str(out.resolve() / "jupyter/common")]
    assert instructor == [str(out.resolve() / "jupyter/instructor"), str(out.resolve() / "jupyter/common")]
    assert c.Spawner.environment["PATH"].split(os.pathsep)[0] == str(user_env / "bin")


def test_nbgrader_settings_course_id_exchange_and_our_grading(user_env, out):
    write_hub_config(settings(user_env, exchange="/srv/x/exchange"), out)
    from traitlets.config.loader import PyFileConfigLoader

    course = PyFileConfigLoader("nbgrader_config.py", path=str(out)).load_config()
    assert course.CourseDirectory.course_id == "mup-2026" and course.Exchange.root == "/srv/x/exchange"
    assert course.GuardedExecute is not None
    assert any("GuardedExecute" in str(p) for p in course.Autograde.autograde_preprocessors)
    common = PyFileConfigLoader("nbgrader_config.py", path=str(out / "jupyter/common")).load_config()
    assert common.CourseDirectory.course_id == "mup-2026" and common.Exchange.path_includes_course is True
    assert "autograde_preprocessors" not in common.Autograde  # learners' servers need nothing of the grader
    instructor = PyFileConfigLoader("nbgrader_config.py", path=str(out / "jupyter/instructor")).load_config()
    assert instructor.CourseDirectory.root == "/home/alice/mup-2026"
    assert (out / "students.csv").read_text().splitlines() == ["id,first_name,last_name,email,lms_user_id",
                                                               "bob,,,,", "carol,,,,"]


def test_learner_layer_hides_the_authoring_tools_as_make_lab_does_but_keeps_the_assignment_list(user_env, out):
    write_hub_config(settings(user_env), out)
    hub = json.loads((out / "jupyter/learner/jupyter_server_config.json").read_text())
    lab = json.loads((ROOT / ".jupyter/learner/jupyter_server_config.json").read_text())
    extensions = hub["ServerApp"]["jpserver_extensions"]
    assert extensions["nbgrader.server_extensions.formgrader"] is False
    assert extensions["nbgrader.server_extensions.assignment_list"] is True  # fetch and submit
    # The file browser hides what `make lab` hides under course/.
    lab_hidden = [p for p in lab["CourseContentsManager"]["hidden_paths"] if p.startswith("course/")]
    assert hub["CourseContentsManager"]["hidden_paths"] == lab_hidden
    disabled = json.loads((out / "jupyter/learner/labconfig/page_config.json").read_text())["disabledExtensions"]
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment"} <= set(disabled)
    assert "@jupyter/nbgrader:assignment-list" not in disabled and "@jupyter/nbgrader:menu" not in disabled
    assert not (out / "jupyter/instructor/jupyter_server_config.json").exists()  # the instructor gets everything


def test_shared_password_never_writes_a_password_and_needs_both_from_the_environment(user_env, out):
    files = render(settings(user_env, auth="shared-password"), out)
    text = files["jupyterhub_config.py"]
    assert 'authenticator_class = "shared-password"' in text and "DummyAuthenticator" not in text
    write_hub_config(settings(user_env, auth="shared-password"), out)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUP_HUB_")}
    with pytest.raises(SystemExit, match="MUP_HUB_PASSWORD"):
        old = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(env)
            load_hub_config(out / "jupyterhub_config.py")
        finally:
            os.environ.clear()
            os.environ.update(old)


@pytest.mark.parametrize("change, named", [
    ({"course_id": "mup 2026"}, "--course-id"),
    ({"course_id": ""}, "--course-id"),
    ({"instructor": "Alice"}, "--instructors"),
    ({"students": ["bob", "bob"]}, "--students"),
    ({"students": ["alice"]}, "--students"),
    ({"students": ["x;rm"]}, "--students"),
    ({"auth": "dummy"}, "--auth"),
    ({"exchange": "relative/exchange"}, "--exchange"),
    ({"course_dir": "course"}, "--course-dir"),
    ({"port": 0}, "--port"),
])
def test_bad_arguments_are_named(user_env, out, change, named):
    with pytest.raises(HubConfigError, match=f"^{named}"):
        write_hub_config(settings(user_env, **change), out)
    assert not out.exists()


def test_refuses_an_out_folder_or_environment_the_users_cannot_reach(tmp_path, out, user_env):
    private = tmp_path / "private"
    (private / "env" / "bin").mkdir(parents=True)
    os.symlink("/bin/sh", private / "env" / "bin" / "python")
    private.chmod(0o700)
    with pytest.raises(HubConfigError, match=r"^--user-env .*not open to other users"):
        write_hub_config(settings(private / "env"), out)
    with pytest.raises(HubConfigError, match=r"^--user-env .*no bin/python"):
        write_hub_config(settings(tmp_path / "nowhere"), out)
    with pytest.raises(HubConfigError, match=r"^--out .*not open to other users"):
        write_hub_config(settings(user_env), private / "hub")


def test_refuses_to_replace_files_unless_forced(user_env, out):
    write_hub_config(settings(user_env), out)
    with pytest.raises(HubConfigError, match="^--out .*--force"):
        write_hub_config(settings(user_env), out)
    write_hub_config(settings(user_env, students=["dan"]), out, force=True)
    assert "dan" in (out / "jupyterhub_config.py").read_text()


def test_command_line(user_env, out, tmp_path, capsys):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name,last_name,email,lms_user_id\ndan,Dan,D,,lms-7\n")
    assert main(["hub", "config", "--course-id", "mup-2026", "--instructors", "alice", "--students", "bob, carol",
                 "--roster", str(roster), "--out", str(out), "--user-env", str(user_env)]) == 0
    assert "jupyterhub -f" in capsys.readouterr().out
    c, _ = load_hub_config(out / "jupyterhub_config.py")
    assert c.Authenticator.allowed_users == {"alice", "bob", "carol", "dan"}
    assert main(["hub", "config", "--course-id", "m", "--instructors", "alice,eve", "--out", str(out),
                 "--user-env", str(user_env), "--force"]) == 2
    assert "--instructors" in capsys.readouterr().err
    run = subprocess.run([sys.executable, "-m", "autograder", "hub", "config", "--course-id", "m",
                          "--instructors", "alice", "--out", str(out), "--user-env", str(user_env),
                          "--auth", "ldap", "--force"], capture_output=True, text=True)
    assert run.returncode == 2 and run.stderr.startswith("error: --auth 'ldap'")
