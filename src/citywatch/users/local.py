"""Who acts from the command line: the Unix account running it."""

from __future__ import annotations

import os
import pwd

from citywatch.domain.audit import Actor


def local_actor() -> Actor:
    """The Unix account running the command (from the process's uid, not $USER, which anyone
    can set), in the `local` role."""
    try:
        name = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        name = f"uid{os.getuid()}"
    return Actor(f"{name}@local", "local")
