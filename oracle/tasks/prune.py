"""prune: forget finished jobs after the retention period (their outputs are kept)."""

from __future__ import annotations

from oracle.tasks.base import Task


class PruneTask(Task):
    name = "prune"

    def run(self) -> None:
        self.parts.store.prune(self.parts.settings.retention_s)
