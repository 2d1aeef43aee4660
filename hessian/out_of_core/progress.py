"""What a measurement run shows while it runs: blocks done of total, HVPs per second, ETA.

On a terminal it is a rich progress bar; where output goes to a log (a Prefect worker, CI) the
bar is replaced by a plain line every 30 s.
"""

from __future__ import annotations

import time


class MeasureProgress:
    """The progress of one measurement run; ``enabled=False`` shows nothing.

    Args:
        total: measurement blocks of the store; ``completed``: those done before the run.
        t0: when the run started (``time.perf_counter()``): the rates count from there.
    """

    def __init__(self, enabled: bool, total: int, completed: int, t0: float, every: float = 30.0):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.total, self.completed, self.t0, self.every = total, completed, t0, every
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("blocks, {task.fields[rate]} HVP/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            disable=not enabled,
        )
        self.plain = enabled and not self.bar.console.is_terminal  # logs: a line every 30 s
        self._last_line = t0

    def __enter__(self) -> MeasureProgress:
        self.bar.__enter__()
        self.task = self.bar.add_task(
            "measuring", total=self.total, completed=self.completed, rate="-"
        )
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def block_measured(self, n_measured: int, n_left: int, n_vectors: int) -> None:
        """One more block measured: ``n_measured`` in this run so far, ``n_left`` still to go,
        ``n_vectors`` test vectors multiplied in this run."""
        elapsed = time.perf_counter() - self.t0
        self.bar.update(self.task, advance=1, rate=f"{n_vectors / elapsed:.1f}")
        if self.plain and time.perf_counter() - self._last_line > self.every:
            self._last_line = time.perf_counter()
            eta = n_left * elapsed / n_measured
            print(
                f"measuring: {self.completed + n_measured}/{self.total} blocks, "
                f"{n_vectors / elapsed:.2f} HVP/s, ETA {eta / 60:.1f} min",
                flush=True,
            )

    def finish(self, completed: int) -> None:
        """Show the final count of blocks done."""
        self.bar.update(self.task, completed=completed)
