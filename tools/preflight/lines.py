"""One checklist line: `PASS <check>: <what was seen>`, `FAIL <check>: <what is wrong> -> <what
to do>`, or `SKIP <check>: <why it did not run>`. Standard library only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["PASS", "FAIL", "SKIP"]


@dataclass(frozen=True)
class Line:
    status: Status
    check: str
    seen: str
    todo: str = ""

    def __str__(self) -> str:
        return f"{self.status} {self.check}: {self.seen}" + (f" -> {self.todo}" if self.todo else "")


def passed(check: str, seen: str) -> Line:
    return Line("PASS", check, seen)


def failed(check: str, wrong: str, todo: str) -> Line:
    return Line("FAIL", check, wrong, todo)


def skipped(check: str, why: str) -> Line:
    return Line("SKIP", check, why)
