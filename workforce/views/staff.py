"""Access rules of the staff (ops) pages — workforce's and quality's — and of annotator-only pages."""
from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def staff_required(view):
    """Anonymous → login page; signed in but not staff → 403. Every ops page uses it (quality too)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (request.user.is_active and request.user.is_staff):
            raise PermissionDenied("Ops pages are for Cadre staff.")
        return view(request, *args, **kwargs)

    return wrapper


def annotator_required(view):
    """Anonymous → login page; accounts without an annotator profile → 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not hasattr(request.user, "annotator"):
            raise PermissionDenied("These pages are for annotator accounts.")
        return view(request, *args, **kwargs)

    return wrapper
