"""Every lesson with a dashboard, in a real browser: run every cell in JupyterLab, then move a slider
(and in lesson 09, write a draft, reveal a rubric and change the design).

What this catches that executing the notebook headlessly cannot: the widget
front end failing to render, the dashboard's ``Image`` never being redrawn
when a slider moves (a broken ``observe``), or an error shown in an output.

The server and browser come from ``conftest.py``; the notebook is opened from
a temporary copy of ``course/``, so nothing is written into the repository.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.browser.polling import poll

try:
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # conftest skips (or fails) the test with the reason
    PlaywrightError = Exception

pytestmark = pytest.mark.browser

COURSE = Path(__file__).resolve().parents[2] / "course"
#: The lessons (not the start page), each opened in turn: their first dashboard's slider is moved.
NOTEBOOKS = sorted(p.name for p in COURSE.glob("0[1-9]_*.ipynb"))

KERNEL_READY_TIMEOUT = 60.0
RUN_ALL_START_TIMEOUT = 20.0
RUN_ALL_TIMEOUT = 120.0
REDRAW_TIMEOUT = 30.0

# State of the notebook panel showing ``name``, read through the app object
# that ``--LabApp.expose_app_in_browser`` puts on ``window``.
JS_NOTEBOOK_STATE = r"""(name) => {
  const app = window.jupyterapp;
  if (!app) return 'no-app';
  const panel = app.shell.currentWidget;
  if (!panel || !panel.context || !panel.context.path.endsWith(name)) return 'no-notebook';
  if (!panel.context.isReady) return 'loading';
  const sc = panel.sessionContext;
  if (!sc || !sc.isReady || !sc.session || !sc.session.kernel) return 'no-kernel';
  return sc.kernelDisplayStatus;
}"""

# Remember whether the kernel has gone busy since now (proof that Run All
# started), and keep every error the kernel reports on IOPub. Errors raised in
# widget callbacks (e.g. a slider's ``observe``) belong to no cell, so they
# never show in an output area: this is the only place to see them.
JS_WATCH_KERNEL = r"""() => {
  window.__testBusySeen = false;
  window.__testKernelErrors = [];
  const sc = window.jupyterapp.shell.currentWidget.sessionContext;
  sc.statusChanged.connect((_, status) => {
    if (status === 'busy') window.__testBusySeen = true;
  });
  sc.iopubMessage.connect((_, msg) => {
    const t = msg.header.msg_type, c = msg.content;
    const parent = (msg.parent_header && msg.parent_header.msg_type) || '?';
    let text = null;
    if (t === 'error') text = c.ename + ': ' + c.evalue + '\n' + (c.traceback || []).join('\n');
    else if (t === 'stream' && c.name === 'stderr' && /Traceback|Error/.test(c.text)) text = c.text;
    if (text !== null) window.__testKernelErrors.push(
      'in reply to ' + parent + ': ' + text.replace(/\x1b\[[0-9;]*m/g, '').slice(0, 2000));
  });
}"""

JS_KERNEL_ERRORS = "() => window.__testKernelErrors || []"

JS_RUN_PROGRESS = r"""() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = panel.content.widgets
    .filter((c) => c.model.type === 'code')
    .map((c) => ({
      prompt: (c.node.querySelector('.jp-InputArea-prompt') || {}).textContent || '',
      blank: c.model.sharedModel.getSource().trim() === '',
    }));
  return {
    busySeen: window.__testBusySeen === true,
    kernel: panel.sessionContext.kernelDisplayStatus,
    running: cells.filter((c) => c.prompt.includes('*')).length,
    notRun: cells
      .map((c, i) => ({ i, c }))
      .filter(({ c }) => !c.blank && !/\[\d+\]/.test(c.prompt))
      .map(({ i }) => i),
    total: cells.length,
  };
}"""

JS_OUTPUT_ERRORS = r"""() => {
  const found = [];
  const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-Cell'));
  const where = (el) => {
    const cell = el.closest('.jp-Cell');
    return cell ? 'cell ' + cells.indexOf(cell) : 'outside any cell';
  };
  const add = (el, why) => found.push(where(el) + ' [' + why + ']: ' + (el.textContent || '').trim().slice(0, 600));
  document.querySelectorAll('.jp-OutputArea-output').forEach((el) => {
    const mime = el.getAttribute('data-mime-type') || '';
    const text = el.textContent || '';
    if (mime === 'application/vnd.jupyter.error') add(el, mime);
    else if (mime === 'application/vnd.jupyter.stderr' && /Traceback|Error/.test(text)) add(el, 'stderr');
    else if (text.includes('Traceback')) add(el, 'traceback in ' + (mime || 'output'));
    else if (/Error displaying widget|Error rendering/.test(text)) add(el, 'widget');
  });
  document.querySelectorAll('[data-mime-type="application/vnd.jupyter.error"]').forEach((el) => {
    if (!el.classList.contains('jp-OutputArea-output')) add(el, 'error output');
  });
  document.querySelectorAll('.jupyter-widgets-error-widget').forEach((el) => add(el, 'widget error view'));
  return found;
}"""

# A cheap fingerprint (length + FNV-1a) of the bytes behind an <img src>, so
# "the plot changed" means new pixels, not just a re-created blob URL.
JS_IMAGE_FINGERPRINT = r"""async (img) => {
  const buf = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
  let h = 0x811c9dc5;
  for (let i = 0; i < buf.length; i++) { h ^= buf[i]; h = Math.imul(h, 0x01000193) >>> 0; }
  return buf.length + ':' + h.toString(16);
}"""

IMAGE = ".jp-OutputArea-output img.widget-image"
SLIDER_HANDLE = ".widget-slider .noUi-handle, .widget-slider .ui-slider-handle"


def _wait_for_kernel_idle(page, notebook: str) -> None:
    dialog_accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")

    def state():
        try:
            value = page.evaluate(JS_NOTEBOOK_STATE, notebook)
        except PlaywrightError as exc:  # e.g. the page is still navigating
            return f"page not ready: {exc.message.splitlines()[0]}"
        # A notebook without kernel metadata asks which kernel to use: take the default.
        if value == "no-kernel" and dialog_accept.count() and dialog_accept.first.is_visible():
            dialog_accept.first.click()
        return value

    poll(state, lambda s: s == "idle", KERNEL_READY_TIMEOUT, f"{notebook} and an idle kernel")


def _run_all_cells(page) -> dict:
    """Run > Run All Cells, wait until it has finished; return the final progress."""
    page.locator(".lm-MenuBar-item").filter(has_text=re.compile(r"^\s*Run\s*$")).click()
    item = page.locator("li.lm-Menu-item[data-command='runmenu:run-all']")
    item.wait_for(state="visible")
    assert "lm-mod-disabled" not in (item.get_attribute("class") or ""), "Run All Cells is disabled"
    item.click()

    progress = lambda: page.evaluate(JS_RUN_PROGRESS)  # noqa: E731
    poll(progress, lambda p: p["busySeen"] or p["running"], RUN_ALL_START_TIMEOUT,
          "Run > Run All Cells to start executing")

    # Finished = no [*] prompt and an idle kernel, seen twice in a row.
    def settled():
        first = progress()
        if first["running"] or first["kernel"] != "idle":
            return first, False
        time.sleep(0.5)
        second = progress()
        return second, not second["running"] and second["kernel"] == "idle"

    result, _ = poll(settled, lambda r: r[1], RUN_ALL_TIMEOUT, "all cells to finish")
    return result


def _assert_no_error_outputs(page) -> None:
    """No error in any output area, nor one the kernel reported outside a cell's execution."""
    errors = page.evaluate(JS_OUTPUT_ERRORS)
    errors += [e for e in page.evaluate(JS_KERNEL_ERRORS)
               if not e.startswith("in reply to execute_request")]  # those are in the outputs
    assert not errors, "error output in the notebook:\n" + "\n\n".join(errors)


def _first_dashboard(page):
    """The first dashboard image and the first slider handle that drives it."""
    images = page.locator(IMAGE)
    poll(images.count, bool, 30,
          "an ipywidgets Image (img.widget-image) in an output: did the widgets render?")
    image = images.first
    cell = page.locator(".jp-Notebook .jp-Cell").filter(has=page.locator(IMAGE)).first
    handle = cell.locator(SLIDER_HANDLE).first
    if not handle.count():  # sliders displayed by a different cell than the image
        handle = page.locator(f".jp-OutputArea-output :is({SLIDER_HANDLE})").first
    assert handle.count(), "found the dashboard image but no ipywidgets slider on the page"
    return image, handle


def _move_slider(handle) -> tuple[str, str]:
    """Nudge the slider by keyboard (away from the end it sits at); return (before, after)."""
    handle.scroll_into_view_if_needed()
    before = handle.get_attribute("aria-valuenow")
    at_max = before is not None and before == handle.get_attribute("aria-valuemax")
    key = "ArrowLeft" if at_max else "ArrowRight"
    handle.focus()
    after = before
    for _ in range(5):  # one step is enough unless the slider ignores a key press
        handle.press(key)
        after = handle.get_attribute("aria-valuenow")
        if after != before:
            break
    assert after != before, f"pressing {key} on the slider handle did not move it (value {before})"
    return before, after


def _mock_interview_round(page, image, lab_root: Path) -> None:
    """Lesson 09: type a draft (saved to the learner's work folder), reveal a rubric, then change one design
    control of the dashboard and see its picture and verdict change."""
    card = page.locator(".jp-OutputArea-output .widget-vbox").filter(has=page.locator(".mock-interview-answer")).first
    answer = card.locator(".mock-interview-answer textarea").first
    answer.scroll_into_view_if_needed()
    draft = "Ask: orders per second at peak, and may we tell the shopper 'received' before the charge?"
    answer.fill(draft)
    answer.press("Tab")  # the box syncs its value when it loses focus (continuous_update=False)
    drafts = lab_root / "my-work" / "mock-interview" / "drafts.json"
    poll(lambda: drafts.exists() and draft in drafts.read_text(encoding="utf-8"), bool, REDRAW_TIMEOUT,
         f"the draft to be saved in {drafts}")
    poll(lambda: card.inner_text(), lambda text: "Saved to" in text, REDRAW_TIMEOUT, "the card to say it saved")

    card.locator(".mock-interview-reveal").first.click()
    poll(lambda: card.locator("input[type=checkbox]").count(), bool, REDRAW_TIMEOUT,
         "the rubric's checklist to appear after Reveal")
    assert "Red flags" in card.inner_text()

    image.scroll_into_view_if_needed()
    src_before = image.get_attribute("src")
    board = page.locator(".jp-OutputArea-output").filter(has=page.locator("img.widget-image")).first
    verdict = board.locator(".widget-html").last
    verdict_before = verdict.inner_text()
    dropdown = page.locator(".widget-dropdown").filter(has_text="Payments: how").first.locator("select")
    dropdown.select_option(label="message")
    poll(lambda: image.get_attribute("src"), lambda src: src and src != src_before, REDRAW_TIMEOUT,
         "the scorecard to redraw after payments became a message")
    poll(verdict.inner_text, lambda text: text != verdict_before, REDRAW_TIMEOUT, "the verdict to change")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_lesson_runs_and_its_dashboard_redraws(notebook, chromium, lab_server, lab_root, tmp_path):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: console_errors.append(f"page error: {exc}"))
    screenshot = tmp_path / f"{Path(notebook).stem}.png"
    started = time.monotonic()
    try:
        page.goto(lab_server.url(f"/lab/tree/{notebook}"), wait_until="domcontentloaded")
        _wait_for_kernel_idle(page, notebook)
        page.evaluate(JS_WATCH_KERNEL)
        progress = _run_all_cells(page)
        _assert_no_error_outputs(page)
        assert not progress["notRun"], (
            f"code cells {progress['notRun']} (0-based, of {progress['total']}) were not "
            "executed: Run All stops at the first failing cell"
        )

        image, handle = _first_dashboard(page)
        poll(lambda: image.get_attribute("src"), bool, 30, "the dashboard image to be drawn")
        image.scroll_into_view_if_needed()
        src_before = image.get_attribute("src")
        pixels_before = image.evaluate(JS_IMAGE_FINGERPRINT)

        errors_before = len(page.evaluate(JS_KERNEL_ERRORS))
        slider_before, slider_after = _move_slider(handle)

        def redraw_state():
            callback_errors = page.evaluate(JS_KERNEL_ERRORS)[errors_before:]
            assert not callback_errors, (
                f"the kernel reported an error after the slider moved {slider_before} -> "
                f"{slider_after}:\n" + "\n\n".join(callback_errors)
            )
            return image.get_attribute("src")

        poll(redraw_state, lambda s: s and s != src_before, REDRAW_TIMEOUT,
              f"the dashboard image to redraw after the slider moved "
              f"{slider_before} -> {slider_after}")
        pixels_after = image.evaluate(JS_IMAGE_FINGERPRINT)
        assert pixels_after != pixels_before, "the image was replaced by an identical picture"

        _assert_no_error_outputs(page)  # the redraw itself printed no error
        if notebook.startswith("09_"):
            _mock_interview_round(page, image, lab_root)
            _assert_no_error_outputs(page)
    except BaseException:
        try:
            page.screenshot(path=str(screenshot))
        except Exception as exc:  # the page may be gone
            print(f"could not take a screenshot: {exc}")
        print(f"screenshot: {screenshot}")
        print(f"elapsed: {time.monotonic() - started:.1f} s")
        print("browser console errors:\n" + ("\n".join(console_errors[-30:]) or "<none>"))
        print(f"JupyterLab log tail ({lab_server.log_path}):\n{lab_server.log_tail()}")
        raise
    else:
        page.screenshot(path=str(screenshot))
        print(f"screenshot: {screenshot} ({time.monotonic() - started:.1f} s in the browser)")
    finally:
        context.close()
