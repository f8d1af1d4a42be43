"""The files service's settings: the shared service settings plus storage and upload limits."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from blazing_service import Env, ServiceSettings, SettingsError
from files.domain.content import KINDS
from files.domain.uploads import Limits

PORT = 8005
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
MIN_TYPICAL_CHUNK = 65_536
DEFAULT_TYPES = "jpg,jpeg,png,gif,webp,svg,ico,pdf,doc,docx,xls,xlsx,ppt,pptx,txt,csv,zip,rar,7z,tar,gz"

_LIMITS = ("max_file_size", "max_files", "max_chunk_size", "max_chunks", "max_open_sessions", "avatar_max_size")


class FilesSettings(ServiceSettings, frozen=True, kw_only=True):
    storage_path: Path = Path("var/storage")
    max_file_size: int = 104_857_600
    """Bytes, for a single upload and for a chunked upload's whole file (nginx's body limit matches)."""
    max_files: int = 10
    allowed_types: frozenset[str] = frozenset(DEFAULT_TYPES.split(","))
    max_chunk_size: int = 8_388_608
    max_chunks: int = 1600
    """Chunks per chunked upload (default: UPLOAD_MAX_FILE_SIZE in 64 KiB chunks) — bounds every
    session's bookkeeping and its status answer."""
    max_open_sessions: int = 10
    """Chunked uploads a user may have open at once (each may hold up to max_file_size on disk)."""
    avatar_max_size: int = 10_485_760
    chunk_session_hours: int = 24

    def limits(self) -> Limits:
        """The upload rules' limits, as the use cases take them."""
        return Limits(
            max_file_size=self.max_file_size,
            max_files=self.max_files,
            allowed_types=self.allowed_types,
            max_chunk_size=self.max_chunk_size,
            max_chunks=self.max_chunks,
            max_open_sessions=self.max_open_sessions,
            avatar_max_size=self.avatar_max_size,
            chunk_session_hours=self.chunk_session_hours,
        )


def load(env: Mapping[str, str] | None = None) -> FilesSettings:
    e = Env(env)
    max_file_size = e.integer("UPLOAD_MAX_FILE_SIZE", 104_857_600)
    allowed = frozenset(t.strip().lower() for t in e.text("UPLOAD_ALLOWED_TYPES", DEFAULT_TYPES).split(","))
    settings = FilesSettings.from_env(
        "files",
        PORT,
        env,
        storage_path=Path(e.text("UPLOAD_STORAGE_PATH", "var/storage")).resolve(),
        max_file_size=max_file_size,
        max_files=e.integer("UPLOAD_MAX_FILES", 10),
        allowed_types=frozenset(t for t in allowed if t in KINDS),
        max_chunk_size=e.integer("UPLOAD_MAX_CHUNK_SIZE", 8_388_608),
        max_chunks=e.integer("UPLOAD_MAX_CHUNKS", -(-max_file_size // MIN_TYPICAL_CHUNK)),
        max_open_sessions=e.integer("UPLOAD_MAX_OPEN_SESSIONS", 10),
        avatar_max_size=e.integer("UPLOAD_AVATAR_MAX_SIZE", 10_485_760),
        chunk_session_hours=e.integer("UPLOAD_CHUNK_SESSION_HOURS", 24),
    )
    for name in _LIMITS:
        if getattr(settings, name) <= 0:
            raise SettingsError(f"UPLOAD_{name.upper()} must be a positive integer")
    return settings
