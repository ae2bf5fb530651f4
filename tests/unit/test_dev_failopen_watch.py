"""`dev up`'s one-line fail-open warning: said once a minute while the front door's log shows failed-open lines."""

from __future__ import annotations

from pathlib import Path

from localdev.dev.failopen import FailOpenWatch

LINE = (
    "rate limit failed open: policy standard: quota store: no answer within 100ms (the policy's timeout); "
    "{n} request(s) since the last warning\n"
)


def test_warns_once_a_minute_while_failures_continue_and_stops_when_they_do(tmp_path: Path) -> None:
    log = tmp_path / "frontdoor.log"
    log.write_text('{"status": 200}\n')
    watch = FailOpenWatch(log)
    assert watch.poll(0.0) is None  # nothing failed
    with log.open("a") as f:
        f.write(LINE.format(n=1) + LINE.format(n=40)[:30])  # the second line is still being written
    said = watch.poll(1.0)
    assert said is not None and "\n" not in said
    assert "answered slower than rate-limit policy standard" in said and "1+ request(s)" in said
    with log.open("a") as f:
        f.write(LINE.format(n=40)[30:])
    assert watch.poll(30.0) is None  # already said this minute
    said_again = watch.poll(62.0)
    assert said_again is not None and "40+ request(s)" in said_again  # the first failure is older than a minute
    assert watch.poll(200.0) is None  # quiet for a minute: nothing to say


def test_a_missing_log_is_no_warning(tmp_path: Path) -> None:
    assert FailOpenWatch(tmp_path / "absent.log").poll(0.0) is None
