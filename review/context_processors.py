"""Template context for every page; each value is lazy, so a page that does not use it pays nothing."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from review import permissions
from review.evaluation import drift
from review.permissions import Role


def roles(request: HttpRequest) -> dict:
    """role_names: the user's role groups (one query, when first used, shared by the others);
    is_process_admin: whether the user is in the process-admin group;
    drift_banners: the drift guard's unanswered demotions of processes the user administers."""
    user = request.user
    groups = SimpleLazyObject(
        lambda: set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
    )

    def in_admin_group() -> bool:
        return Role.PROCESS_ADMIN in groups

    def banners() -> list:
        if not user.is_authenticated:
            return []
        return drift.banners(permissions.administered_processes(user))

    return {
        "role_names": groups,
        "is_process_admin": SimpleLazyObject(in_admin_group),
        "drift_banners": SimpleLazyObject(banners),
    }
