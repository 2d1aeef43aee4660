"""Failures as one line each, with an exit code; tracebacks only when debugging.

    HESSIAN_DEBUG=1 hessian run ...     (or ``hessian --debug run ...``): tracebacks shown

Exit codes: 2 bad input (configuration, data, a store or checkpoint of another run, too little
disk space, a diverged training, a directory that cannot be written), 3 a server is down, 1
anything unexpected (the line says how to see the traceback).
"""

from __future__ import annotations

import logging
import os

from hessian.exceptions import INPUT_ERRORS, TrackingUnavailableError

HINT = "(--debug or HESSIAN_DEBUG=1 shows the traceback)"


def debugging() -> bool:
    return os.environ.get("HESSIAN_DEBUG", "") not in ("", "0", "false", "no")


def one_line(e: BaseException) -> tuple[str, int]:
    """The message of ``e`` in one line, and the exit code it gets."""
    text = " ".join(str(e).split())
    if isinstance(e, OSError) and e.filename and e.strerror:
        text = f"{e.filename}: {e.strerror}"
    if isinstance(e, TrackingUnavailableError):
        return text, 3
    if isinstance(e, INPUT_ERRORS):
        return text, 2
    if isinstance(e, OSError) and e.errno in (28, 30):  # ENOSPC, EROFS
        return text, 2
    return f"{type(e).__name__}: {text or 'unexpected failure'} {HINT}", 1


class _NoTraceback(logging.Filter):
    """Drops the traceback of a log record and keeps the first line of its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info or record.exc_text:
            record.exc_info = None
            record.exc_text = None
        msg = record.getMessage()
        if "\n" in msg:
            first = next((line for line in msg.splitlines() if line.strip()), "")
            record.msg, record.args = first, None
        return True


_FILTER = _NoTraceback()


def quiet_tracebacks() -> None:
    """Keep tracebacks out of the console (Prefect logs one per failed task and flow run),
    unless debugging."""
    if debugging():
        return
    for name in (None, "prefect", "uvicorn", "fastapi", "prefect._internal"):
        for handler in logging.getLogger(name).handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
