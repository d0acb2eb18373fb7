"""Runs one purge on a data folder, saying `ready` just before it starts.

Run by test_purge_crash.py as `python purge_runner.py DATA_DIR`, and killed at some point.
"""

from __future__ import annotations

import sys
from pathlib import Path

from citywatch.config.settings import Settings
from citywatch.runtime.build import Runtime


def main() -> None:
    rt = Runtime(Settings(data_dir=Path(sys.argv[1])))
    rt.purger.plan()  # everything opened and migrated before the signal may come
    print("ready", flush=True)
    rt.purge()
    print("done", flush=True)
    rt.close()


if __name__ == "__main__":
    main()
