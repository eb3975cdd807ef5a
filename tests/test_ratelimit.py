"""Rate-limited log lines: a flood is a few lines and a count, never one line per request."""
from __future__ import annotations

import logging

from beatgan.bridge.ratelimit import RateLimitedLog


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "test.flood"]


def test_a_flood_is_the_first_lines_and_one_count_per_window(caplog):
    caplog.set_level(logging.INFO, "test.flood")
    clock = Clock()
    limiter = RateLimitedLog(logging.getLogger("test.flood"), window_s=10.0, burst=3, clock=clock)
    for i in range(1920):
        limiter.log(logging.WARNING, "queue-full refusals", "refused %d", i)
        clock.t += 0.001                       # 1920 refusals in under 2 s
    limiter.log(logging.WARNING, "other errors", "something else")
    assert lines(caplog) == ["refused 0", "refused 1", "refused 2", "something else"]
    clock.t += 10.0
    limiter.flush_due()
    assert lines(caplog)[-1] == "... 1,917 more queue-full refusals in the last 10 s"
    limiter.flush_due()                        # reported once
    assert len(lines(caplog)) == 5
    # A new window logs in full again.
    limiter.log(logging.WARNING, "queue-full refusals", "refused again")
    assert lines(caplog)[-1] == "refused again"


def test_flush_at_shutdown_reports_open_counts(caplog):
    caplog.set_level(logging.INFO, "test.flood")
    clock = Clock()
    limiter = RateLimitedLog(logging.getLogger("test.flood"), window_s=10.0, burst=1, clock=clock)
    for _ in range(4):
        limiter.log(logging.WARNING, "bad packets", "bad")
    clock.t += 2.0
    limiter.flush()
    assert lines(caplog) == ["bad", "... 3 more bad packets in the last 2 s"]


def test_a_kind_under_the_burst_has_no_count_line(caplog):
    caplog.set_level(logging.INFO, "test.flood")
    limiter = RateLimitedLog(logging.getLogger("test.flood"), burst=5)
    for _ in range(5):
        limiter.log(logging.WARNING, "k", "x")
    limiter.flush()
    assert lines(caplog) == ["x"] * 5
