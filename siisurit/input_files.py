"""Reading an input file (organization YAML, users CSV): a regular file of bounded size, checked before reading."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class InputFileError(Exception):
    """The file cannot be read as an input file; the message says why (without the path, callers add it)."""


def input_file_bytes(path: Path, *, max_bytes: int) -> bytes:
    """The content of the regular file `path`; refuses devices, pipes, directories and files above `max_bytes`.

    Checked before reading, so `/dev/zero` or a huge file costs nothing; the read stops at the limit too, in case
    the file grows between the check and the read.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise InputFileError("file not found") from None
    except OSError as error:
        raise InputFileError(f"cannot read file: {error.strerror}") from None
    if not stat.S_ISREG(status.st_mode):
        raise InputFileError("not a regular file (devices, pipes and directories cannot be imported)")
    if status.st_size > max_bytes:
        raise InputFileError(_too_large(status.st_size, max_bytes))
    try:
        with open(path, "rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as error:
        raise InputFileError(f"cannot read file: {error.strerror}") from None
    if len(data) > max_bytes:
        raise InputFileError(_too_large(len(data), max_bytes))
    return data


def _too_large(size: int, max_bytes: int) -> str:
    return f"file too large ({size} bytes, at most {max_bytes}; SII_INPUT_FILE_LIMIT_IN_MEGABYTES sets the limit)"
