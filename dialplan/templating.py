"""What the rendered configurations (Asterisk's and Kamailio's) share: ``@{name}``
placeholders and files replaced atomically."""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path


class Template(string.Template):
    """``@{name}`` placeholders; ``@@`` is a literal ``@``."""

    delimiter = "@"


def write_atomically(path: Path, text: str, *, secret: bool = False) -> None:
    """Write through a temporary file and rename, so a server never reads half a file.

    A secret file (``ari.conf``) is created readable by its owner only, never for a moment
    by anyone else.

    The temporary name is unique, so two writers of one file (a controller and ``ivr311 rules
    apply --dialplan``) cannot rename each other's half-written file into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        mode = 0o600 if secret else 0o644
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
