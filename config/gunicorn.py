"""gunicorn settings for Gatehouse: `gunicorn -c config/gunicorn.py` (README, Operating Gatehouse).

Command-line options still apply on top (`--workers 4 --bind 0.0.0.0:8000`). With
PROMETHEUS_MULTIPROC_DIR set, every worker writes its metrics there and /metrics sums them.
"""

import os
from pathlib import Path

wsgi_app = "config.wsgi:application"
# Each worker imports the app itself, so each has its own metric files from the start.
preload_app = False
# The app writes one JSON line per request (`gatehouse.request`) that names the route
# template; an access log would repeat it with the raw path, which can carry a reset link.
accesslog = None


def _multiproc_dir() -> Path | None:
    raw = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    return Path(raw) if raw else None


def on_starting(server) -> None:
    """Start from an empty metrics directory: stale files of an earlier run would be summed in."""
    directory = _multiproc_dir()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # only prometheus_client's files
        stale.unlink(missing_ok=True)


def child_exit(server, worker) -> None:
    """A worker died or was replaced: drop its live-gauge files (its counters keep counting)."""
    if _multiproc_dir() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
