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


@pytest.fixture(autouse=True)
def _no_grading_seed_leak(monkeypatch):
    """Each test starts without a grading seed in the environment unless it sets one itself."""
    monkeypatch.delenv("SGD_COURSE_GRADING_SEED", raising=False)
    yield
