"""Feedback a learner's code cannot use to leak tests or to run scripts: two preprocessors for nbgrader.

nbgrader's ``generate_feedback`` renders the autograded notebook: the outputs
of the run that included the hidden tests. A learner's code runs in that
kernel while the hidden tests do, so it can capture them (a hook, the
caller's frame, ``In``) and print them later, encoded so that no scrubber
recognises them; and whatever HTML or JavaScript it displays, or writes in a
Markdown answer, would run in the feedback page. So feedback is rebuilt from
things the learner's code could not have tainted:

* :class:`FeedbackRun` runs the notebook again, in the sandbox, **with the
  hidden tests already removed** (it comes after ``StripHiddenTests`` in
  ``GenerateFeedback.preprocessors``). Nothing in this run ever saw a hidden
  test, so none of its outputs can carry one, however encoded. The scores
  shown are still the graded run's (``GetGrades`` reads them from the
  gradebook).
* :class:`SafeOutputs` then keeps only what a learner needs, escaped and
  capped: a test cell shows the last line of its error (``AssertionError:
  ...``), or a note when only its hidden tests failed; other cells keep text
  streams, plain-text results and PNG/JPEG images, each cut at
  :attr:`~SafeOutputs.max_chars`. HTML, JavaScript, SVG and widget outputs are
  dropped. Markdown cells are rendered and cleaned with bleach (nbconvert's
  own allow-lists), so ``<script>``, ``onerror=`` and ``javascript:`` links
  never survive. nbconvert's templates escape plain text and code.
"""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Integer

from .guard import GuardedExecute, is_test_cell
from .hidden import last_line_of_error, strip_ansi


class FeedbackRun(GuardedExecute):
    """Re-run the notebook (hidden tests already stripped) so feedback shows only that run's outputs."""

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        return super().preprocess(nb, resources)


def _cap(text: str, limit: int) -> str:
    text = strip_ansi(str(text))
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... cut: feedback shows at most {limit:,} characters here]\n"


class SafeOutputs(Preprocessor):
    """Reduce every output to escaped, capped text (see the module docstring)."""

    max_chars = Integer(3_000, help="Characters kept of each output of a learner's cell.").tag(config=True)
    max_error_chars = Integer(300, help="Characters kept of a test cell's error line.").tag(config=True)

    def __init__(self, **kw):
        super().__init__(**kw)
        self.enabled = True

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" or cell.cell_type == "raw":
            cell.source = clean_markdown(cell.source)
        elif cell.cell_type == "code":
            cell.outputs = self._test_outputs(cell) if is_test_cell(cell) else self._other_outputs(cell)
        return cell, resources

    def _error_line(self, output) -> NotebookNode:
        line = _cap(last_line_of_error(output), self.max_error_chars)
        name, _, value = line.partition(": ")
        return NotebookNode(output_type="error", ename=name, evalue=value, traceback=[line])

    def _test_outputs(self, cell) -> list:
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            return [self._error_line(errors[-1])]
        meta = cell.metadata.get("nbgrader", {})
        score, points = meta.get("score"), meta.get("points")
        if score is not None and points is not None and float(score) < float(points):
            return [NotebookNode(output_type="stream", name="stdout",
                                 text="The visible tests in this cell pass; its hidden tests failed.\n")]
        return []

    def _other_outputs(self, cell) -> list:
        kept = []
        for output in cell.outputs:
            if output.output_type == "stream":
                kept.append(NotebookNode(output_type="stream", name=output.name,
                                         text=_cap(output.get("text", ""), self.max_chars)))
            elif output.output_type == "error":
                kept.append(self._error_line(output))
            else:
                data = output.get("data", {})
                safe = {}
                if isinstance(data.get("text/plain"), str):
                    safe["text/plain"] = _cap(data["text/plain"], self.max_chars)
                for image in ("image/png", "image/jpeg"):
                    if isinstance(data.get(image), str) and len(data[image]) <= 2_000_000:
                        safe[image] = data[image]
                if safe:
                    node = NotebookNode(output_type=output.output_type, data=safe, metadata={})
                    if output.output_type == "execute_result":
                        node.execution_count = output.get("execution_count")
                    kept.append(node)
        return kept


#: What a Markdown cell may keep in feedback: structure and text, no scripts, styles, forms or frames.
MARKDOWN_TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "code", "em", "strong", "b", "i", "u", "s",
    "del", "sup", "sub", "blockquote", "ul", "ol", "li", "dl", "dt", "dd", "a", "img", "table", "thead",
    "tbody", "tr", "th", "td", "span", "div", "details", "summary", "kbd"})
MARKDOWN_ATTRIBUTES = {"a": ["href", "title"], "img": ["src", "alt", "title"], "th": ["align", "colspan", "rowspan"],
                       "td": ["align", "colspan", "rowspan"], "code": ["class"], "pre": ["class"],
                       "span": ["class"], "div": ["class"]}


def clean_markdown(source: str) -> str:
    """Markdown rendered to HTML and cleaned with bleach (:data:`MARKDOWN_TAGS`), as Markdown that renders
    to exactly that HTML.

    Cleaning the source alone is not enough: text that bleach leaves alone,
    such as ``[x](javascript:...)``, becomes a link when the template renders
    the Markdown. So the cleaned HTML is wrapped in one ``<div>`` block with no
    blank line inside, which Markdown passes through untouched (CommonMark's
    HTML block, kind 6); blank lines become a zero-width space.
    """
    import bleach
    from nbconvert.filters.markdown import markdown2html

    cleaned = bleach.clean(markdown2html(source), tags=MARKDOWN_TAGS, attributes=MARKDOWN_ATTRIBUTES,
                           protocols={"http", "https", "mailto"}, strip=True, strip_comments=True)
    lines = [line if line.strip() else "&#8203;" for line in cleaned.strip().split("\n")]
    return '<div class="learner-markdown">\n' + "\n".join(lines) + "\n</div>"
