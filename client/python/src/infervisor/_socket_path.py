"""Where infervisord listens when no socket is named: the rules of common/socket_path.cpp."""
from __future__ import annotations

import os
from typing import Mapping, Optional

SYSTEM_SOCKET = "/run/infervisor/infervisor.sock"


def default_socket_path(environ: Optional[Mapping[str, str]] = None,
                        euid: Optional[int] = None) -> str:
    """The socket infervisord and infervisorctl use when none is configured.

    ``$INFERVISOR_SOCKET`` if set and not empty; else, as root,
    ``/run/infervisor/infervisor.sock``; else ``$XDG_RUNTIME_DIR/infervisor/infervisor.sock``
    when ``XDG_RUNTIME_DIR`` is an absolute path (the XDG spec says a relative one must be
    ignored), and ``/run/infervisor/infervisor.sock`` otherwise. Root ignores
    ``XDG_RUNTIME_DIR`` so that ``sudo`` finds the system daemon.

    ``environ`` and ``euid`` default to this process's; tests pass their own.
    """
    env = os.environ if environ is None else environ
    explicit = env.get("INFERVISOR_SOCKET")
    if explicit:
        return explicit
    is_root = (os.geteuid() if euid is None else euid) == 0
    runtime_dir = env.get("XDG_RUNTIME_DIR")
    if not is_root and runtime_dir and runtime_dir.startswith("/"):
        return os.path.join(runtime_dir, "infervisor", "infervisor.sock")
    return SYSTEM_SOCKET
