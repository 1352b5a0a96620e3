"""Keep hidden tests out of what learners see: a preprocessor for nbgrader's feedback, and helpers.

Why nbgrader needs it: ``nbgrader autograde`` puts the hidden tests back
into every test cell (``OverwriteCells`` replaces a locked cell's source with
the source saved in the gradebook, hidden region included) and runs them;
when one fails, IPython's traceback quotes the failing lines. nbgrader's
``GenerateFeedback`` renders that notebook as it is (its preprocessors are
``GetGrades`` and ``CSSHTMLHeaderPreprocessor``), so the feedback shows the
hidden tests twice over: in the cell and in its traceback.

:class:`StripHiddenTests` is nbgrader's own :class:`~nbgrader.preprocessors.ClearHiddenTests`
(the preprocessor ``generate_assignment`` uses to make the student version)
plus one step: in a cell that held hidden tests, or in any output that quotes
a hidden line, an error's traceback is cut to its last line,
``ErrorType: message``. Other outputs that quote a hidden line are replaced by
a note. :mod:`autograder.config` adds it to ``GenerateFeedback.preprocessors``.
"""

from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Bool

from .hidden import hidden_lines, last_line_of_error, quotes_hidden


class StripHiddenTests(ClearHiddenTests):
    """nbgrader's ClearHiddenTests, plus tracebacks and outputs scrubbed of hidden test source."""

    enforce_metadata = Bool(
        False,
        help="Feedback must never fail over metadata: a hidden region outside a grade cell is removed too.",
    ).tag(config=True)

    def preprocess(self, nb, resources):
        """Collect the notebook's hidden lines, then remove the regions cell by cell."""
        self._hidden = hidden_lines(nb, self.begin_test_delimeter, self.end_test_delimeter)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        """Remove the cell's hidden region (nbgrader) and scrub its outputs (ours)."""
        had_hidden = self.begin_test_delimeter in cell.source
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.cell_type == "code":
            cell.outputs = [self._scrub(output, had_hidden) for output in cell.outputs]
        return cell, resources

    def _scrub(self, output, had_hidden: bool):
        if output.output_type == "error":
            text = "\n".join(output.get("traceback", []))
            if had_hidden or quotes_hidden(text, self._hidden):
                if quotes_hidden(str(output.get("evalue", "")), self._hidden):
                    output.evalue = "(message hidden: it quotes a hidden test)"
                output.traceback = [last_line_of_error(output)]
            return output
        if output.output_type == "stream":
            if quotes_hidden(output.get("text", ""), self._hidden):
                output.text = "(output hidden: it quotes a hidden test)\n"
            return output
        data = output.get("data", {})
        if any(isinstance(v, str) and quotes_hidden(v, self._hidden) for v in data.values()):
            output.data = {"text/plain": "(output hidden: it quotes a hidden test)"}
        return output
