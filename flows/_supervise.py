"""Runs a flow command in a supervised child process, so that an interrupt stops everything.

Ctrl-C in a terminal signals the whole foreground process group: the temporary Prefect server
and the Dask workers would die first, and the flow would retry against a dead server for
minutes. So the ``hessian`` process (the supervisor) validates the run, then starts the same
command again as a child in a session of its own (``HESSIAN_SUPERVISED=1``), where the flow,
its Prefect server and its Dask workers live, and waits:

- Ctrl-C or SIGTERM to the supervisor: the child gets SIGTERM (a ``KeyboardInterrupt`` in it:
  the flow stops, the MLflow run is closed), and after ``GRACE`` seconds, or at a second
  signal, its whole process group is killed. The supervisor says where to resume, and exits
  130 (SIGINT) or 143 (SIGTERM). Complete checkpoints and measurement blocks are kept (both are
  written atomically), so a rerun resumes.
- SIGKILL of the supervisor: a watchdog process (in a session of its own, reading a pipe
  from the supervisor) sees the pipe close and kills the child's process group, so no server
  is left listening; the child also has ``PR_SET_PDEATHSIG``.
- When the child ends, whatever is left in its group is killed too.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time

ENV = "HESSIAN_SUPERVISED"
PARENT_ENV = "HESSIAN_SUPERVISOR_PID"
GRACE = 4.0  # seconds the child has to stop by itself before its group is killed

_WATCHDOG = """
import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
sys.stdin.buffer.read()  # returns at EOF: the supervisor is done, or gone
try:
    os.killpg(int(sys.argv[1]), signal.SIGKILL)
except (ProcessLookupError, PermissionError):
    pass
"""


def supervised() -> bool:
    """Whether this process is the supervised child (or supervision is off: not POSIX)."""
    return os.environ.get(ENV) == "1" or os.name != "posix"


def child_setup() -> None:
    """In the child: die with the supervisor (PR_SET_PDEATHSIG), and turn SIGTERM into a
    ``KeyboardInterrupt`` so the flow stops through its ``finally`` blocks."""
    if os.environ.get(ENV) != "1":
        return
    _set_pdeathsig(signal.SIGTERM)
    parent = os.environ.get(PARENT_ENV)
    if parent and os.getppid() != int(parent):  # the supervisor died before prctl
        os._exit(1)
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM kills
    raise KeyboardInterrupt(f"signal {signum}")


def _set_pdeathsig(sig: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def run(argv: list[str], run_dir: str) -> int:
    """Run ``hessian ARGV`` as a supervised child; its exit code (130/143 when interrupted)."""
    env = os.environ | {ENV: "1", PARENT_ENV: str(os.getpid())}
    cmd = [sys.executable, "-m", "hessian_sketch.flows.cli", *argv]
    child = subprocess.Popen(cmd, env=env, start_new_session=True)
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(child.pid)], stdin=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    got: list[int] = []

    def on_signal(signum, frame):
        got.append(signum)
        if len(got) == 1:
            _signal(child, signal.SIGTERM)
        else:
            _kill_group(child.pid)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        deadline = None
        while True:
            try:
                rc = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if got and deadline is None:
                    deadline = time.monotonic() + GRACE
                if deadline is not None and time.monotonic() > deadline:
                    _kill_group(child.pid)
    finally:
        _kill_group(child.pid)  # anything the child left behind
        watchdog.stdin.close()
        watchdog.wait()
        for s, h in old.items():
            signal.signal(s, h)
    if got:
        name = signal.Signals(got[0]).name
        print(
            f"interrupted ({name}): complete checkpoints and measurement blocks are kept in "
            f"{run_dir}; resume with: hessian {shlex.join(argv)}",
            file=sys.stderr,
            flush=True,
        )
        return 128 + got[0]
    if rc < 0:
        print(f"error: the run was killed by {signal.Signals(-rc).name}", file=sys.stderr)
        return 1
    return rc


def _signal(child: subprocess.Popen, sig: int) -> None:
    try:
        child.send_signal(sig)
    except ProcessLookupError:
        pass


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
