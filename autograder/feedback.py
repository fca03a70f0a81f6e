"""Feedback that tells a student what failed without handing out the hidden tests."""

from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests

HIDDEN_NOTE = "# Hidden tests ran here with fresh random inputs; their verdict is shown below."


class HideHiddenTests(ClearHiddenTests):
    """A ``GenerateFeedback`` preprocessor: removes each hidden-test region from the feedback and
    shortens the error output of those cells to its last line (the check's message), so that neither
    the test code nor the traceback through it reaches the student.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and self._remove_hidden_test_region(cell):
            cell.source = cell.source.rstrip() + "\n" + HIDDEN_NOTE
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
