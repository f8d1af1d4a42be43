"""The files service's settings: the shared service settings plus storage and upload limits."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import msgspec

from blazing_service import Env, ServiceSettings
from files.domain.content import KINDS

DEFAULT_TYPES = "jpg,jpeg,png,gif,webp,svg,ico,pdf,doc,docx,xls,xlsx,ppt,pptx,txt,csv,zip,rar,7z,tar,gz"


class FilesSettings(ServiceSettings, frozen=True, kw_only=True):
    storage_path: Path = Path("var/storage")
    max_file_size: int = 104_857_600
    """Bytes, for a single upload and for a chunked upload's whole file (nginx's body limit matches)."""
    max_files: int = 10
    allowed_types: frozenset[str] = frozenset(DEFAULT_TYPES.split(","))
    max_chunk_size: int = 8_388_608
    avatar_max_size: int = 10_485_760
    chunk_session_hours: int = 24

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> FilesSettings:
        e = Env(env)
        base = ServiceSettings.from_env("files", 8005, env)
        allowed = frozenset(t.strip().lower() for t in e.text("UPLOAD_ALLOWED_TYPES", DEFAULT_TYPES).split(","))
        return cls(
            **msgspec.structs.asdict(base),
            storage_path=Path(e.text("UPLOAD_STORAGE_PATH", "var/storage")).resolve(),
            max_file_size=e.integer("UPLOAD_MAX_FILE_SIZE", 104_857_600),
            max_files=e.integer("UPLOAD_MAX_FILES", 10),
            allowed_types=frozenset(t for t in allowed if t in KINDS),
            max_chunk_size=e.integer("UPLOAD_MAX_CHUNK_SIZE", 8_388_608),
            avatar_max_size=e.integer("UPLOAD_AVATAR_MAX_SIZE", 10_485_760),
            chunk_session_hours=e.integer("UPLOAD_CHUNK_SESSION_HOURS", 24),
        )
