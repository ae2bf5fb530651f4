"""`dev up` watches the front door's log and says, in one line, when rate limiting failed open in the last minute.

The edge logs "rate limit failed open: policy P: quota store: REASON; N request(s) since the last warning" at most
once per policy per interval (portico.core.quota.failopen). A local load test that outruns the local store would
otherwise show limits that do not hold with nothing on the screen saying so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

WINDOW = 60.0  # seconds: "in the last minute"
_LINE = re.compile(r"rate limit failed open: policy (?P<policy>\S+): quota store: (?P<reason>.*?); (?P<n>\d+) request")


@dataclass
class FailOpenWatch:
    log: Path
    _offset: int = 0
    _seen: list[tuple[float, str, str, int]] = field(default_factory=list)
    _said_at: float | None = None

    def poll(self, now: float) -> str | None:
        """Read what the log gained; a one-line warning when failures fell in the last minute and none was printed
        in that minute, else None."""
        try:
            with self.log.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return None
        complete = data.rfind(b"\n") + 1  # a half-written last line is read next time
        self._offset += complete
        for line in data[:complete].decode("utf-8", "replace").splitlines():
            m = _LINE.search(line)
            if m:
                self._seen.append((now, m["policy"], m["reason"], int(m["n"])))
        self._seen = [s for s in self._seen if now - s[0] <= WINDOW]
        if not self._seen or (self._said_at is not None and now - self._said_at < WINDOW):
            return None
        self._said_at = now
        _, policy, reason, _ = self._seen[-1]
        total = sum(s[3] for s in self._seen)
        slow = "answered slower than" if "timeout" in reason else "failed for"
        return (
            f"warning: the quota store {slow} rate-limit policy {policy} ({reason}) in the last minute: "
            f"{total}+ request(s) were let through uncounted (failureMode: open); see {self.log}"
        )
