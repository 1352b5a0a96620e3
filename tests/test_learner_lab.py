"""``make lab`` as a learner meets it, without a browser: the printed URL, the file browser, nbgrader's
authoring tools, lessons that save without outputs, and ``git pull`` / ``make update`` afterwards.

Each test works on a learner's clone of the course (:mod:`tests.learner_checkout`);
the same path through a real browser, terminal included, is
``tests/browser/test_learner_path.py``.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import nbformat
import pytest

from course.lab import strip_notebook
from tests.learner_checkout import MakeLab, git, learner_clone

LESSONS = "course/[0-9][0-9]_*.ipynb"


def request(url: str, method: str = "GET", body: dict | None = None) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def listing(lab: MakeLab, path: str = "") -> list[str]:
    status, text = request(lab.api(f"/api/contents/{path}"))
    assert status == 200, text
    return sorted(entry["name"] for entry in json.loads(text)["content"])


def page_config(lab: MakeLab) -> dict:
    status, text = request(lab.api("/lab"))
    assert status == 200
    start = text.index('id="jupyter-config-data"')
    body = text[text.index(">", start) + 1:text.index("</script>", start)]
    return json.loads(body)


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return learner_clone(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="module")
def lab(clone, tmp_path_factory):
    with MakeLab(clone[1], tmp_path_factory.mktemp("lab-state")) as server:
        yield server


def test_the_printed_url_opens_the_start_page(lab):
    url = urllib.parse.urlparse(lab.url)
    assert url.path == "/lab/tree/course/00_start_here.ipynb"
    status, _ = request(lab.url)
    assert status == 200


def test_make_lab_starts_quietly(lab):
    out = lab.output()
    assert "nbgrader" not in out.lower(), out
    assert "Editable installation" not in out


def test_the_file_browser_shows_the_lessons_and_the_learners_own_work(lab, clone):
    (clone[1] / "my-work" / "testing" / "tests").mkdir(parents=True)
    assert listing(lab) == ["README.md", "course", "my-work"]
    lessons = sorted(p.name for p in (clone[1] / "course").glob("[0-9][0-9]_*.ipynb"))
    assert listing(lab, "course") == lessons
    assert listing(lab, "my-work/testing") == ["tests"]  # hidden by path from the root, not by name
    status, _ = request(lab.api("/api/contents/course/sim/engine.py?content=0"))
    assert status == 200, "hidden from the listing, but still there for whoever opens it by path"


def test_nbgraders_authoring_tools_are_off_for_learners(lab):
    assert page_config(lab)["disabledExtensions"].count("@jupyter/nbgrader") == 1
    status, _ = request(lab.api("/formgrader"))
    assert status == 404


def test_an_instructor_turns_them_on_with_one_setting(clone, tmp_path):
    with MakeLab(clone[1], tmp_path / "state", instructor=True) as instructor:
        assert "@jupyter/nbgrader" not in page_config(instructor)["disabledExtensions"]
        status, _ = request(instructor.api("/formgrader"))
        assert status == 200


def _as_jupyterlab_saves_it_after_a_run(model: dict) -> dict:
    """What a notebook's autosave sends after Run All: outputs, counts and front-end metadata."""
    nb = model["content"]
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.7", "mimetype": "text/x-python"}
    for n, cell in enumerate(nb["cells"], start=1):
        cell["metadata"]["scrolled"] = True
        if cell["cell_type"] == "code":
            cell["execution_count"] = n
            cell["metadata"]["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00.000Z"}
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "ran\n"}]
    return {"type": "notebook", "format": "json", "content": nb}


def test_lessons_save_without_outputs_and_git_pull_still_works(lab, clone):
    upstream, learner = clone
    lessons = sorted(p.relative_to(learner).as_posix() for p in learner.glob(LESSONS))
    for path in lessons:
        status, text = request(lab.api(f"/api/contents/{path}"))
        assert status == 200, text
        status, text = request(lab.api(f"/api/contents/{path}"), "PUT",
                               _as_jupyterlab_saves_it_after_a_run(json.loads(text)))
        assert status == 200, text
    assert git(learner, "status", "--porcelain", "--untracked-files=no") == ""

    own = "my-work/scratch.ipynb"  # a learner's own notebook keeps what they saved
    (learner / "my-work").mkdir(exist_ok=True)  # as `fetch` makes it; this test must not rely on another's
    status, text = request(lab.api(f"/api/contents/{lessons[1]}"))
    request(lab.api(f"/api/contents/{own}"), "PUT", _as_jupyterlab_saves_it_after_a_run(json.loads(text)))
    assert any(c.get("outputs") for c in nbformat.read(learner / own, as_version=4).cells)

    for path in lessons:  # a newer version of the course changes every lesson
        nb = nbformat.read(upstream / path, as_version=4)
        nb.cells.append(nbformat.v4.new_markdown_cell("A newer version of this lesson."))
        nbformat.write(nb, upstream / path)
    git(upstream, "commit", "-q", "-am", "a newer version")
    done = subprocess.run(["make", "--no-print-directory", "update"], cwd=learner, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    for path in lessons:
        assert (learner / path).read_bytes() == (upstream / path).read_bytes()


def test_make_update_keeps_a_lesson_the_learner_edited(clone, tmp_path):
    upstream, _ = clone
    learner = tmp_path / "learner"
    git(tmp_path, "clone", "-q", str(upstream), str(learner))
    lesson = "course/01_slow_dependency.ipynb"
    nb = nbformat.read(learner / lesson, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("My notes on timeouts."))
    nbformat.write(nb, learner / lesson)
    nb = nbformat.read(upstream / lesson, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("Upstream fix."))
    nbformat.write(nb, upstream / lesson)
    git(upstream, "commit", "-q", "-am", "fix lesson 01")

    done = subprocess.run(["make", "--no-print-directory", "update"], cwd=learner, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    kept = list((learner / "my-work" / "lesson-edits").glob("01_slow_dependency.*.ipynb"))
    assert len(kept) == 1 and "My notes on timeouts." in kept[0].read_text(encoding="utf-8")
    assert f"kept as my-work/lesson-edits/{kept[0].name}" in done.stdout
    assert (learner / lesson).read_bytes() == (upstream / lesson).read_bytes()


def test_stripping_an_unedited_lesson_gives_back_its_committed_bytes(tmp_path):
    from tests.learner_checkout import REPO_ROOT

    for path in sorted(REPO_ROOT.glob(LESSONS)):
        committed = path.read_text(encoding="utf-8")
        run = _as_jupyterlab_saves_it_after_a_run({"content": json.loads(committed)})["content"]
        stripped = strip_notebook(run, json.loads(committed))
        assert nbformat.writes(nbformat.from_dict(stripped)) + "\n" == committed, path.name
