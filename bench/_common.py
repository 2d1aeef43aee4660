"""Shared by the benchmarks: peak memory of this process and its children."""

from __future__ import annotations

import threading
import time

import psutil


def rss_total() -> int:
    """Summed RSS (bytes) of this process and all its descendants."""
    me = psutil.Process()
    total = 0
    for p in [me, *me.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


class PeakMemory:
    """Peak of the summed RSS of this process and its descendants, sampled every ``every`` s;
    ``baseline`` is the sum when the block started."""

    def __init__(self, every: float = 0.2):
        self.every, self.peak, self.baseline = every, 0, 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_total())
            time.sleep(self.every)

    def __enter__(self):
        self.baseline = self.peak = rss_total()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()
        self.peak = max(self.peak, rss_total())
