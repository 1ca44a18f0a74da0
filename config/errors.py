"""The one exception of the configuration layer."""

from __future__ import annotations


class ConfigError(ValueError):
    """A runtime property is missing or invalid; the message names its group and key."""

    def __init__(self, group: str, key: str, problem: str) -> None:
        self.group = group
        self.key = key
        self.problem = problem
        super().__init__(f"configuration error in property group '{group}', key '{key}': {problem}")
