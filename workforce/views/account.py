"""Sign-up (login and logout are Django's views, behind workforce.ratelimit)."""
from __future__ import annotations


from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods


from .. import ratelimit, services
from ..forms import SignupForm


# --- account --------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("workforce:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        wait = ratelimit.signup_retry_after(request)
        if wait:
            form = ratelimit.form_with_error(form, ratelimit.too_many_message(wait, "sign-up"))
            return ratelimit.refuse(render(request, "workforce/signup.html", {"form": form}), wait)
        ratelimit.signup_attempted(request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.annotator_signup(
                username=data["username"],
                password=data["password"],
                display_name=data.get("display_name") or "",
                email=data.get("email") or "",
            )
        except ValidationError as exc:
            for field, msgs in exc.message_dict.items():
                for msg in msgs:
                    form.add_error(field if field in form.fields else None, msg)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            if user.email:  # vetting starts with the address (issue 3a): send its link now
                from .people import _verify_base

                services.email_verification_send(annotator=user, link_base=_verify_base(request))
            messages.success(request, "Welcome to Cadre! Finish vetting on your account page, then pick a project.")
            return redirect("workforce:home")
    return render(request, "workforce/signup.html", {"form": form})
