"""Session fixtures: one course directory, built and graded once for the whole test session."""

import shutil

import pytest

from autograder import replay
from autograder.grading import REPO_SOURCE, Course

ASSIGNMENTS = sorted(p.name for p in REPO_SOURCE.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
SEED = replay.SEEDS[0]
"""The demo class's grading seed: the replay's first, so that test_replay.py compares its replay with this
grading instead of grading the class once more."""
SHARED = {"test_pipeline.py": "demo_class", "test_replay.py": "demo_class"}
"""Test files that share the graded demo class: pytest-xdist runs them on one worker, which grades it once."""


@pytest.hookimpl(tryfirst=True)   # before pytest-xdist's own hook reads the marks
def pytest_collection_modifyitems(items):
    """Each test file is a group of pytest-xdist's ``--dist loadgroup`` (it runs whole on one worker, which
    makes its module fixtures once), and the files of ``SHARED`` are one group."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(SHARED.get(item.path.name, item.path.name)))


@pytest.fixture(scope="session")
def built_course(tmp_path_factory):
    """A course directory with every assignment's student version built."""
    course = Course.from_sources(tmp_path_factory.mktemp("course"))
    course.build()
    return course


@pytest.fixture(scope="session")
def graded_demo(built_course, tmp_path_factory):
    """Every assignment's demo class submitted and graded at ``SEED``: (course, as_graded, rosters, results),
    ``as_graded`` a copy of the course folder as the grading left it, which tests that change the course
    (a regrading, new students) leave alone."""
    from autograder.demo import submit_demo_class

    course = built_course
    rosters, results = {}, {}
    for assignment in course.assignments:
        rosters[assignment] = submit_demo_class(course, assignment)
        for result in course.grade(assignment, seed=SEED):
            results[assignment, result.student] = result
    copy = tmp_path_factory.mktemp("demo-as-graded") / "course"
    shutil.copytree(course.root, copy)
    return course, Course(copy), rosters, results


@pytest.fixture(scope="session")
def demo_class(graded_demo):
    """Every assignment's demo class submitted and graded: (course, rosters, results)."""
    course, _, rosters, results = graded_demo
    return course, rosters, results


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """One headless Chromium for the session (Playwright's sync API allows one at a time per thread)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # a set-up error, reported as a failure: the browser tests never skip
        raise RuntimeError("Playwright for Python is missing: pip install -e '.[test]'") from error
    import browser_helpers as bh
    manager = sync_playwright().start()
    context = bh.launch_browser(manager, tmp_path_factory.mktemp("chromium-profile"))
    yield context
    context.close()
    manager.stop()


@pytest.fixture(autouse=True)
def _no_grading_seed_leak(monkeypatch):
    """Each test starts without a grading seed in the environment unless it sets one itself."""
    monkeypatch.delenv("SGD_COURSE_GRADING_SEED", raising=False)
    yield
