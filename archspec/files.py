"""Output files are written whole or not at all: readers never see half a module or
half a diagram, and a failed run leaves what was there before."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from .errors import Diagnostic, Loc, SpecErrors
from .names import one_line


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write via a temporary file in the same folder, then os.replace; a new file gets
    mode 0644 (not mkstemp's private 0600), an existing one keeps its mode."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:100]}.", suffix=".tmp")
    except OSError as e:
        raise cannot_write(path, e) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException as e:
        os.unlink(tmp)
        if isinstance(e, OSError):
            raise cannot_write(path, e) from None
        raise
    return path


def cannot_write(path: Path, e: OSError) -> SpecErrors:
    return SpecErrors([Diagnostic(Loc(one_line(path, 120)), f"cannot write {one_line(path, 120)}: "
                                  f"{e.strerror or type(e).__name__}")])


def open_regular(path: str):
    """`path` opened for reading if it is a regular file, else None (closed again). Opened without
    blocking, so a FIFO with no writer cannot hang the open, and refused before a byte of a device
    or pipe is read. OSError as open() raises it."""
    f = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb")
    if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        return f
    f.close()
    return None
