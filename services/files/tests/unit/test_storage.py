"""Local storage: temporary files a crash left behind are swept, those still being written are not."""

from __future__ import annotations

import os
import time
from pathlib import Path

from files.adapters.storage import Storage


def test_abandoned_temporary_files_are_swept(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    old, fresh = storage.tmp / "old.part", storage.tmp / "fresh.part"
    old.write_bytes(b"left behind")
    fresh.write_bytes(b"in flight")
    an_hour_ago = time.time() - 3601
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert storage.sweep_tmp(3600) == 1
    assert (old.exists(), fresh.exists()) == (False, True)
