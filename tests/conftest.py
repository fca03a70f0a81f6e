"""Session fixtures: one course directory built, and the demo class graded in a copy of it, once for the
whole test session, also when pytest-xdist runs the tests on several workers (``made_once``: the first
worker that needs one makes it in a folder beside the workers' own temporary folders, and the others
load it).

These course folders are shared: tests only read them. A test that changes a course (submits, grades,
regrades) works on its own copy (``copy_course``); after every test that uses a shared course,
``_shared_courses_stay_as_made`` fails it if a file of that course was added, removed or written since
it was made, since another worker's tests read the same folder.
"""

import shutil
from pathlib import Path

import pytest
from made_once import changed_files, made_once
from xdist import is_xdist_worker

from autograder import replay
from autograder.grading import REPO_SOURCE, Course

ASSIGNMENTS = sorted(p.name for p in REPO_SOURCE.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
SEED = replay.SEEDS[0]   # the demo class's grading seed: the first seed of the replay data (test_replay.py)
SHARED = ("built_course", "demo_class")   # the fixtures whose course folders are shared


# The test files that take longest (worker time in a quiet run), longest first: pytest-xdist hands out whole
# files in the order of collection (pyproject: --dist loadfile --no-loadscope-reorder), so these start
# first and the short files fill in at the end; the others keep their alphabetical order.
LONGEST_FIRST = ("test_adversarial.py", "test_browser.py", "test_edition.py", "test_replay.py", "test_pipeline.py",
                 "test_hardening.py", "test_course_week.py", "test_class_grading.py", "test_selfcheck.py",
                 "test_notebooks.py", "test_course_order.py", "test_sandbox.py", "test_jupyter_setup.py",
                 "test_lms_week.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def shared_folder(request, tmp_path_factory) -> Path:
    """Where the session's shared folders go: beside the workers' own temporary folders under xdist (the
    parent of a worker's basetemp is the session's), in the session's basetemp without it."""
    top = tmp_path_factory.getbasetemp()
    return top.parent if is_xdist_worker(request) else top


def copy_course(course: Course, root: Path, **kwargs) -> Course:
    """A copy of ``course`` at ``root`` (a new folder), to change without changing ``course``."""
    shutil.copytree(course.root, root, symlinks=True)
    return Course(root, **kwargs)


def _build(root: Path) -> Path:
    Course.from_sources(root).build()
    return root


def _grade_demo_class(built: Course):
    def make(root: Path):
        from autograder.demo import submit_demo_class

        course = copy_course(built, root)
        rosters, results = {}, {}
        for assignment in course.assignments:
            rosters[assignment] = submit_demo_class(course, assignment)
            for result in course.grade(assignment, seed=SEED, workers=2):
                results[assignment, result.student] = result
        return root, rosters, results
    return make


@pytest.fixture(scope="session")
def built_course(request, tmp_path_factory):
    """A course directory with every assignment's student version built (shared: read it, never write)."""
    return Course(made_once(shared_folder(request, tmp_path_factory), "built_course", _build))


@pytest.fixture(scope="session")
def demo_class(request, tmp_path_factory, built_course):
    """Every assignment's demo class submitted to a copy of ``built_course`` and graded at ``SEED``, two
    submissions at a time: (course, rosters, results) (shared: read it, never write)."""
    root, rosters, results = made_once(shared_folder(request, tmp_path_factory), "demo_class",
                                     _grade_demo_class(built_course))
    return Course(root), rosters, results


@pytest.fixture(autouse=True)
def _shared_courses_stay_as_made(request):
    """After a test that uses a shared course: fail it if it changed a file of that course."""
    roots = {name: request.getfixturevalue(name) for name in SHARED if name in request.fixturenames}
    yield
    for name, value in roots.items():
        course = value[0] if isinstance(value, tuple) else value
        changed = changed_files(course.root)
        assert not changed, f"{request.node.nodeid} changed the shared {name} (work on a copy_course): {changed[:5]}"


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
