"""Known mistakes as submissions: the demo class and the pipeline tests are made of these."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bug:
    """A submission that differs from the reference in one place: replace ``old`` by ``new`` in the
    answer of cell ``cell``. ``costs`` names the graded cells that must lose their points."""

    student: str
    description: str
    cell: str
    old: str
    new: str
    costs: tuple[str, ...]
