"""The one exception type for problems a user can cause or fix."""
from __future__ import annotations


class PuppetError(Exception):
    """Something the user can act on: a bad path, a file with no face, a missing device.

    ``str(error)`` is one line: what is wrong, then what to do about it.
    """

    def __init__(self, problem: str, fix: str = ""):
        self.problem = problem.rstrip(". ")
        self.fix = fix.rstrip(". ")
        super().__init__(self.message)

    @property
    def message(self) -> str:
        problem = self.problem[:1].upper() + self.problem[1:]
        if not self.fix:
            return f"{problem}."
        return f"{problem}. {self.fix[:1].upper() + self.fix[1:]}."
