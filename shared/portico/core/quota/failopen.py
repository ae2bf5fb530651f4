"""When to warn that rate limiting failed open: at most once per policy per interval, counting what was not said.

A store that stops answering under load fails every request open; one log line per request would flood the log
exactly when someone needs to read it. Each policy gets one warning per `interval` seconds, and the next warning
says how many failures came in between, so the log still accounts for every one. Time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

WARN_INTERVAL = 10.0  # seconds between two warnings about the same policy


@dataclass(slots=True)
class FailOpenWarnings:
    interval: float = WARN_INTERVAL
    _last: dict[str, float] = field(default_factory=dict)
    _unsaid: dict[str, int] = field(default_factory=dict)

    def due(self, policy: str, now: float) -> int | None:
        """Record one failure of `policy` at `now`; the failures to report (this one included) if a warning is due."""
        unsaid = self._unsaid.get(policy, 0) + 1
        last = self._last.get(policy)
        if last is not None and now - last < self.interval:
            self._unsaid[policy] = unsaid
            return None
        self._last[policy] = now
        self._unsaid[policy] = 0
        return unsaid
