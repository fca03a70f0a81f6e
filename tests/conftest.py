"""Session fixtures: one course directory, built and graded once for the whole test session."""


import pytest

from autograder.grading import REPO_SOURCE, Course

ASSIGNMENTS = sorted(p.name for p in REPO_SOURCE.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
SEED = 20261128


@pytest.fixture(scope="session")
def built_course(tmp_path_factory):
    """A course directory with every assignment's student version built."""
    course = Course.from_sources(tmp_path_factory.mktemp("course"))
    course.build()
    return course


@pytest.fixture(scope="session")
def demo_class(built_course):
    """Every assignment's demo class submitted and graded: (course, rosters, results)."""
    from autograder.demo import submit_demo_class

    course = built_course
    rosters, results = {}, {}
    for assignment in course.assignments:
        rosters[assignment] = submit_demo_class(course, assignment)
        for result in course.grade(assignment, seed=SEED):
            results[assignment, result.student] = result
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
