"""What files does with other contexts' events: user.deleted erases that user's files
(application.erasure.EraseUserFiles), through the shared blazing_service.erasure handler."""

from __future__ import annotations

from blazing_service.erasure import USER_DELETED as USER_EVENT_TYPES
from blazing_service.erasure import on_user_deleted as user_events_handler

__all__ = ["USER_EVENT_TYPES", "user_events_handler"]
