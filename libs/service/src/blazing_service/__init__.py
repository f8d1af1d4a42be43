"""What every Blazing Sun HTTP service shares."""

from blazing_service.body import Checks, convert, read_json
from blazing_service.errors import (
    BadRequest,
    Forbidden,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
    ValidationFailed,
)
from blazing_service.http import create_app, success
from blazing_service.identity import (
    Identity,
    current_identity,
    require_admin,
    require_super_admin,
    require_user,
)
from blazing_service.settings import Env, ServiceSettings, ServiceUrl, SettingsError, Var

__all__ = [
    "BadRequest",
    "Checks",
    "Env",
    "Forbidden",
    "Identity",
    "PayloadTooLarge",
    "ServiceSettings",
    "ServiceUrl",
    "SettingsError",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationFailed",
    "Var",
    "convert",
    "create_app",
    "current_identity",
    "read_json",
    "require_admin",
    "require_super_admin",
    "require_user",
    "success",
]
