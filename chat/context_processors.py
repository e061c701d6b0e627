"""Values every page needs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def fusionroom(request: HttpRequest) -> dict[str, Any]:
    return {"demo": settings.FUSIONROOM_DEMO, "signup_open": settings.FUSIONROOM_SIGNUP == "open"}
