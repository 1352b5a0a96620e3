"""A new learner's first minutes, in a real browser: from the URL ``make lab`` prints to a score.

On a fresh clone of the course (:mod:`tests.learner_checkout`): run ``make lab
ARGS=--no-browser`` as the README says, open exactly the URL it prints, and
check that the start page is the open document and nbgrader's authoring UI is
absent. Run the start page and save it: git sees no change. Then open JupyterLab's terminal, type the start page's fetch and check
commands as written, expect ``score: 0 / 60`` for the fresh copy, and open the
fetched notebook from the file browser.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from tests.browser.polling import poll
from tests.learner_checkout import MakeLab, git, learner_clone

pytestmark = pytest.mark.browser

COMMAND = re.compile(r"^(python -m autograder (?:fetch|check) resilience)\b", re.M)
CHECK_TIMEOUT = 240.0

# The terminal's text: its screen-reader rows (turned on in the settings below) or the DOM renderer's rows.
JS_TERMINAL_TEXT = r"""() => {
  const term = document.querySelector('.jp-Terminal');
  if (!term) return '';
  const rows = term.querySelector('.xterm-accessibility-tree') || term.querySelector('.xterm-rows');
  return rows ? Array.from(rows.children).map((r) => r.textContent).join('\n') : '';
}"""


def start_page_commands(checkout: Path) -> list[str]:
    """The fetch and check commands for ``resilience``, exactly as the start page writes them."""
    nb = nbformat.read(checkout / "course" / "00_start_here.ipynb", as_version=4)
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    commands = COMMAND.findall(text)
    assert [c.split()[3] for c in commands] == ["fetch", "check"], commands
    return commands


def _current_tab(page) -> str:
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current .lm-TabBar-tabLabel")
    return tab.first.inner_text() if tab.count() else ""


def _kernel_status(page) -> str:
    """The status bar's kernel text ("Python 3 (ipykernel) | Idle"), accepting the kernel dialog if it asks.

    Under load JupyterLab may ask which kernel to start before it has read the
    list of kernels; a learner would press Select, so the test does too."""
    accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    if accept.count() and accept.first.is_visible():
        accept.first.click()
    status = page.locator(".jp-StatusBar-TextItem").filter(has_text="|")
    return status.first.inner_text() if status.count() else ""


def _menu(page, *path: str) -> None:
    page.locator(".lm-MenuBar-item").filter(has_text=re.compile(rf"^\s*{path[0]}\s*$")).click()
    for label in path[1:]:
        item = page.locator(".lm-Menu:visible .lm-Menu-item").filter(
            has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(rf"^{label}$"))).first
        item.hover()
        item.click()


def _run_in_terminal(page, command: str, until: re.Pattern, timeout: float) -> str:
    terminal = page.locator(".jp-Terminal").first
    terminal.click()
    page.keyboard.type(command)
    page.keyboard.press("Enter")
    return poll(lambda: page.evaluate(JS_TERMINAL_TEXT), lambda text: bool(until.search(text)), timeout,
                 f"`{command}` to finish in JupyterLab's terminal")


def _open_in_file_browser(page, *names: str) -> None:
    if not page.locator(".jp-FileBrowser").first.is_visible():  # a click on its tab would close an open one
        page.locator(".jp-SideBar [data-id='filebrowser']").first.click()
    page.locator(".jp-FileBrowser .jp-BreadCrumbs-home").first.click()  # it shows course/, the start page's folder
    for name in names:
        item = page.locator(".jp-DirListing-item").filter(
            has=page.locator(".jp-DirListing-itemText", has_text=re.compile(rf"^{re.escape(name)}$")))

        def visible():
            if not item.count():  # the listing refreshes on its own; a click on Refresh is quicker
                refresh = page.locator(".jp-FileBrowser-toolbar [data-command='filebrowser:refresh']")
                if refresh.count():
                    refresh.first.click()
            return item.count()

        poll(visible, bool, 30, f"{name!r} in the file browser")
        item.first.dblclick()


def test_from_the_printed_url_to_a_score(chromium, tmp_path):
    _, checkout = learner_clone(tmp_path)
    state = tmp_path / "lab-state"
    settings = state / "settings" / "@jupyterlab" / "terminal-extension" / "plugin.jupyterlab-settings"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps({"screenReaderMode": True}))  # the terminal's text, readable in the DOM

    with MakeLab(checkout, state) as lab:
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(30_000)
        page = context.new_page()
        screenshot = tmp_path / "learner-path.png"
        try:
            page.goto(lab.url, wait_until="domcontentloaded")
            poll(lambda: _current_tab(page), lambda t: t == "00_start_here.ipynb", 60,
                  "the start page to be the open document")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            menus = page.locator(".lm-MenuBar-item").all_inner_texts()
            assert "Nbgrader" not in [m.strip() for m in menus], menus
            assert page.get_by_text("Create Assignment").count() == 0
            assert page.locator(".jp-Toolbar").get_by_text("Validate").count() == 0
            assert page.locator("[data-id*='nbgrader'], [data-id*='create_assignment']").count() == 0

            # Run the start page and save it, as a learner does: git sees no change.
            poll(lambda: _kernel_status(page), lambda t: t.endswith("Idle"), 90, "the start page's kernel")
            _menu(page, "Run", "Run All Cells")
            poll(lambda: page.locator(".jp-OutputArea-output img.widget-image").count(), bool, 90,
                  "the start page's dashboard to be drawn")
            start_page = checkout / "course" / "00_start_here.ipynb"
            saved_before = start_page.stat().st_mtime_ns
            page.locator(".jp-Notebook").first.click()
            page.keyboard.press("Control+s")
            poll(lambda: start_page.stat().st_mtime_ns, lambda t: t != saved_before, 30, "the save to happen")
            assert git(checkout, "status", "--porcelain") == ""

            _menu(page, "File", "New", "Terminal")
            page.locator(".jp-Terminal").first.wait_for()
            fetch, check = start_page_commands(checkout)
            out = _run_in_terminal(page, fetch, re.compile(r"python -m autograder check resilience\s*\n[^\n]*[#$]\s*$"),
                                   120)
            assert "my-work/resilience/resilience.ipynb" in out
            assert (checkout / "my-work" / "resilience" / "resilience.ipynb").is_file()
            out = _run_in_terminal(page, check, re.compile(r"^\s*score: \S+ / \S+", re.M), CHECK_TIMEOUT)
            assert re.search(r"^\s*score: 0 / 60\s*$", out, re.M), out
            assert "ModuleNotFoundError" not in out and "Traceback" not in out

            _open_in_file_browser(page, "my-work", "resilience", "resilience.ipynb")
            poll(lambda: _current_tab(page), lambda t: t == "resilience.ipynb", 60,
                  "the fetched notebook to open from the file browser")
        except BaseException:
            page.screenshot(path=str(screenshot))
            print(f"screenshot: {screenshot}\nmake lab output:\n{lab.output()[-3000:]}")
            raise
        finally:
            context.close()
