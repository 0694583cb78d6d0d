"""A private ``redis-server`` on a loopback port, for tests and benchmarks that need a real Redis.

It runs as a child process of the caller, without persistence, in a temporary
directory of its own; the caller may stop and start it again (to test an outage)
and cleans it up at the end. It needs the ``redis-server`` executable, nothing else.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time

__all__ = ["RedisServer", "free_port"]


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """A private redis-server on a loopback port, started and stopped by its owner."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="orb-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL, database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 5.0) -> None:
        """Start the server and return once it answers ``PING``; RuntimeError after ``timeout``."""
        self.process = subprocess.Popen(  # noqa: S603  # a fixed argv, no shell
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not come up on port {self.port}")

    def stop(self) -> None:
        """Kill the server (its data goes with it); :meth:`start` brings up an empty one."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=5)
            self.process = None

    def cleanup(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
