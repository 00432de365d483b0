"""Template context for every page; each value is lazy, so a page that does not use it pays nothing."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from review import permissions
from review.evaluation import drift
from review.permissions import Role


def roles(request: HttpRequest) -> dict:
    """is_process_admin: whether the user is in the process-admin group (one query, when first used);
    drift_banners: the drift guard's unanswered demotions of processes the user administers."""
    user = request.user

    def in_admin_group() -> bool:
        return user.is_authenticated and user.groups.filter(name=Role.PROCESS_ADMIN).exists()

    def banners() -> list:
        if not user.is_authenticated:
            return []
        return drift.banners(permissions.administered_processes(user))

    return {"is_process_admin": SimpleLazyObject(in_admin_group), "drift_banners": SimpleLazyObject(banners)}
