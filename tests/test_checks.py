"""The building blocks of hidden tests: comparisons, messages, seeding, the no-reference rule."""

import numpy as np
import pytest

import course.schedules
from autograder.checks import CheckFailed, assert_matches, grading_rng, student_call


def test_shape_dtype_and_type_are_checked_exactly():
    expected = np.arange(3.0)
    with pytest.raises(CheckFailed, match=r"expected shape \(3,\), got shape \(1, 3\)"):
        assert_matches(expected[None], expected, "f(x)")
    with pytest.raises(CheckFailed, match="expected dtype float64, got dtype float32"):
        assert_matches(expected.astype(np.float32), expected, "f(x)")
    with pytest.raises(CheckFailed, match="expected an ndarray"):
        assert_matches(list(expected), expected, "f(x)")
    with pytest.raises(CheckFailed, match="expected a number"):
        assert_matches("1.0", 1.0, "f(x)")
    assert_matches(np.float64(1.0), 1.0, "f(x)")
    assert_matches(np.array(1.0), 1.0, "f(x)")


def test_value_mismatch_names_the_call_the_values_and_a_hint():
    with pytest.raises(CheckFailed) as info:
        assert_matches(np.array([1.0, -2.0]), np.array([1.0, 2.0]), "g(theta=[1, 2])",
                       hints=[(np.array([1.0, -2.0]), "a sign error")])
    text = str(info.value)
    assert "g(theta=[1, 2])" in text and "index (1,)" in text and "Hint: a sign error" in text


def test_nan_never_matches():
    with pytest.raises(CheckFailed):
        assert_matches(np.array([np.nan]), np.array([np.nan]), "f()")


def test_grading_rng_is_seeded_per_run_and_label_and_ignores_global_state(monkeypatch):
    monkeypatch.setenv("SGD_COURSE_GRADING_SEED", "7")
    np.random.seed(0)
    a = grading_rng("x").normal(size=3)
    np.random.seed(1)
    assert np.array_equal(a, grading_rng("x").normal(size=3))
    assert not np.array_equal(a, grading_rng("y").normal(size=3))
    monkeypatch.setenv("SGD_COURSE_GRADING_SEED", "8")
    assert not np.array_equal(a, grading_rng("x").normal(size=3))


def test_a_call_into_the_reference_is_caught_through_any_alias():
    alias = course.schedules.constant

    def wrapper(tau):
        return alias(tau)

    with pytest.raises(CheckFailed, match="calls the reference implementation"):
        student_call(wrapper, 0.1, call="constant(0.1)", forbidden=[course.schedules])
    assert student_call(lambda tau: tau, 0.1, call="constant(0.1)", forbidden=[course.schedules]) == 0.1


def test_student_exceptions_become_messages():
    def broken(x):
        return x[5]
    with pytest.raises(CheckFailed, match=r"f\(x=\[1\]\) raised IndexError"):
        student_call(broken, [1], call="f(x=[1])")
    with pytest.raises(CheckFailed, match="should be a function"):
        student_call(3, call="f()")


@pytest.mark.parametrize("got, expected, message", [
    ([0.5], 0.5, "For f(x): expected a number (0.5), got list [0.5]."),
    (np.array([0.5]), 0.5, "For f(x): expected a number (0.5), got ndarray(shape=(1,), dtype=float64)."),
    (True, 1.0, "For f(x): expected a number (1.0), got bool True."),
    ([1.0, 2.0], np.zeros(2), "For f(x): expected an ndarray of shape (2,), got list [1.0, 2.0]."),
    (np.zeros((1, 2)), np.zeros(2), "For f(x): expected shape (2,), got shape (1, 2)."),
    (np.zeros(2, np.float32), np.zeros(2), "For f(x): expected dtype float64, got dtype float32."),
])
def test_visible_tests_and_grading_share_one_kind_shape_and_dtype_check(got, expected, message):
    """course.validate.check_returned (what the notebooks' visible tests call, and all a grading kernel
    can import) fails with the very message grading's assert_matches gives, as an AssertionError."""
    from course.validate import ReturnedValueError, check_returned

    with pytest.raises(ReturnedValueError) as visible:
        check_returned(got, expected, "f(x)")
    with pytest.raises(CheckFailed) as graded:
        assert_matches(got, expected, "f(x)")
    assert str(visible.value) == str(graded.value) == message
    assert isinstance(visible.value, AssertionError) and not isinstance(visible.value, CheckFailed)
    for ok, want in [(np.float32(0.5), 0.5), (3, 0.5), (np.array(0.5), 0.5), (np.zeros(2), np.ones(2))]:
        assert check_returned(ok, want, "f(x)") is ok


def test_a_wrong_shape_keeps_gradings_hint():
    with pytest.raises(CheckFailed, match=r"expected shape \(2,\), got shape \(3,\)\. Hint: K\+1"):
        assert_matches(np.zeros(3), np.zeros(2), "f(x)", hints=[(np.zeros(3), "K+1")])
