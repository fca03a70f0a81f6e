"""The feedback pages' exporter: templates compiled once per process, the same pages as nbconvert's own
HTMLExporter (the second implementation here), and a changed template is compiled again."""

from __future__ import annotations

import jinja2
import nbformat
from nbconvert.exporters import HTMLExporter

from autograder.config import nbgrader_config
from autograder.feedback import FeedbackExporter


def _notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Step sizes\n$\\tau(k) = k^{-1/2}$"),
                nbformat.v4.new_code_cell("x = 1\nprint(x)", outputs=[
                    nbformat.v4.new_output("stream", name="stdout", text="1\n")])]
    return nb


def _counting_compiles(monkeypatch):
    calls = []
    compile_ = jinja2.Environment.compile

    def counted(self, source, name=None, filename=None, raw=False, defer_init=False):
        calls.append(name)
        return compile_(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(jinja2.Environment, "compile", counted)
    return calls


def test_pages_are_nbconverts_own_and_a_second_exporter_compiles_no_template(monkeypatch):
    nb = _notebook()
    expected = HTMLExporter(template_name="classic").from_notebook_node(nb)[0]
    FeedbackExporter(template_name="classic").from_notebook_node(nb)      # compiles and keeps them
    calls = _counting_compiles(monkeypatch)
    page = FeedbackExporter(template_name="classic").from_notebook_node(nb)[0]
    assert page == expected
    assert calls == []
    HTMLExporter(template_name="classic").from_notebook_node(nb)          # nbconvert's own compiles again
    assert calls


def test_a_changed_template_is_compiled_again(tmp_path):
    folder = tmp_path / "templates" / "mine"
    folder.mkdir(parents=True)
    (folder / "conf.json").write_text('{"base_template": "classic", "mimetypes": {"text/html": true}}')
    index = folder / "index.html.j2"
    index.write_text('{%- extends "classic/index.html.j2" -%}\n{% block body_header %}FIRST{% endblock %}\n')
    settings = dict(template_name="mine", extra_template_basedirs=[str(tmp_path / "templates")])
    assert "FIRST" in FeedbackExporter(**settings).from_notebook_node(_notebook())[0]
    index.write_text('{%- extends "classic/index.html.j2" -%}\n{% block body_header %}SECOND{% endblock %}\n')
    page = FeedbackExporter(**settings).from_notebook_node(_notebook())[0]
    assert "SECOND" in page and "FIRST" not in page


def test_the_course_writes_its_feedback_with_it(tmp_path):
    config = nbgrader_config(tmp_path)
    assert config.GenerateFeedback.exporter_class is FeedbackExporter
