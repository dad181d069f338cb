"""What config validation reports: one ConfigError naming every bad key, its value and what is
allowed, collected per environment by `Problems` so the user fixes everything in one pass."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config value that is not allowed. The message names key, value and what is allowed."""


class Problems:
    """Collects every problem of one environment (`env`: the prefix of each key)."""

    def __init__(self, env: str) -> None:
        self.env = env
        self.lines: list[str] = []

    def add(self, key: str, value: object, allowed: str) -> None:
        self.lines.append(f"{self.env}.{key} = {value!r} is not allowed: {allowed}")

    def check(self, ok: bool, key: str, value: object, allowed: str) -> None:
        if not ok:
            self.add(key, value, allowed)

    def positive(self, key: str, value: object, required: bool = True) -> None:
        """A whole number > 0 (or, unless `required`, None)."""
        if value is None:
            self.check(not required, key, value, "a whole number > 0")
            return
        self.check(isinstance(value, int) and not isinstance(value, bool) and value > 0, key, value, "a whole number > 0")
