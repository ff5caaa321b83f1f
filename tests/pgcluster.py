"""A throwaway PostgreSQL server on loopback: for the tests (conftest.py) and the benchmarks.

initdb in a temporary directory, trust authentication, fsync off, listening on 127.0.0.1
at a free port; stopped and deleted afterwards. Nothing here imports pytest, so a script
can use it too (benchmarks/generate_bench.py does).

PostgreSQL refuses to run as root; when run as root (as in CI), the cluster runs as the
`postgres` system user that Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class ClusterError(RuntimeError):
    """The server could not be found, initialised or started."""


def pg_bin_dir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not candidates:
        raise ClusterError(
            "PostgreSQL server binaries not found (no initdb): "
            "install Debian's 'postgresql' package (.ci/run does)"
        )
    return Path(candidates[-1]).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresCluster:
    """`start()`, `url(database)`, `stop()`; or use it as a context manager."""

    def __init__(self, *, settings: dict[str, str] | None = None) -> None:
        self.bin = pg_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="mealytics-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        #: Extra server settings (`-c name=value`), e.g. a bigger shared_buffers.
        self.settings = dict(settings or {})
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise ClusterError("running as root but there is no 'postgres' user") from None
            os.chmod(self.root, 0o755)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            raise ClusterError(
                f"{' '.join(args[:2])} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )

    def start(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D", str(self.data),
            "-U", "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        )  # fmt: skip
        self._start_server()

    def _start_server(self) -> None:
        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.root),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "50",
            **self.settings,
        }
        options = " ".join([f"-p {self.port}", *(f"-c {k}={v}" for k, v in settings.items())])
        self._run(
            str(self.bin / "pg_ctl"),
            "-D", str(self.data),
            "-o", options,
            "-l", str(self.root / "server.log"),
            "-w",
            "-t", "60",
            "start",
        )  # fmt: skip

    def set_next_xid(self, xid: int) -> None:
        """Restart the server with its transaction counter at `xid` (a 32-bit value, in the
        same epoch), e.g. just below 2^32 to see the counter wrap around. Every database
        is frozen first, so rows written before stay visible whatever the jump."""
        subprocess.run(
            [str(self.bin / "vacuumdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
             "postgres", "--all", "--freeze", "-q"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "stop")
        self._run(str(self.bin / "pg_resetwal"), "-x", str(xid), "-D", str(self.data))
        # The commit log's segment of the new xid must exist (1,048,576 xids a segment).
        segment = self.data / "pg_xact" / f"{xid // 1_048_576:04X}"
        if not segment.exists():
            self._run("dd", "if=/dev/zero", f"of={segment}", "bs=262144", "count=1")
        self._start_server()

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
             "stop"],
            capture_output=True,
            timeout=60,
        )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def __enter__(self) -> PostgresCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
