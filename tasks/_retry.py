"""When a failed task is worth retrying: not when the input is at fault (a retry would fail the
same way, minutes later), nor when the run was interrupted."""

from __future__ import annotations

from hessian.exceptions import INPUT_ERRORS, TrackingUnavailableError

PERMANENT = (*INPUT_ERRORS, TrackingUnavailableError, MemoryError)


def transient(task, task_run, state) -> bool:
    """Prefect's ``retry_condition_fn``: retry only failures that may pass on a second try."""
    try:
        state.result()
    except (*PERMANENT, KeyboardInterrupt, SystemExit):
        return False
    except Exception:  # anything else may pass on a second try (a lost worker, a timeout)
        return True
    return True
