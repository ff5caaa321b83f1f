"""Temporary files a killed publisher left behind.

Every publisher writes `.<name>.<pid>.tmp` (a file, or a version's folder) beside the final
name and renames it over the final name, so a reader never sees half a file. A process
killed in between (SIGKILL, power loss) cannot delete its temporary: the next publisher
does, before writing. Only files of processes that no longer exist are removed (runs never
overlap: they hold the warehouse lock), and only names of that exact shape.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp(?P<wal>\.wal)?$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def sweep(folder: str | os.PathLike, final_names: set[str] | None = None) -> list[Path]:
    """Delete in `folder` the temporaries (of `final_names`, if given) whose writer is gone;
    the paths removed."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        match = _TEMPORARY.match(path.name)
        if not match or (final_names is not None and match["name"] not in final_names):
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or _alive(pid):
            continue
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)  # a version folder being built (pipelines.publish.version)
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        log.warning("removed %s, left by process %d (killed while publishing)", path, pid)
        removed.append(path)
    return removed
