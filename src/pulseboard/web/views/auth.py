"""Login, logout and the password reset flow, with Django's auth (the e-mail is the login).

Password reset sends its link through the configured e-mail backend (the
console by default, so an operator without SMTP sees it in the server log).
The reset answer never says whether an address has an account.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.urls import reverse_lazy


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="E-mail",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That e-mail address and password do not match an account.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""

    def clean_username(self) -> str:
        # Addresses are stored lower-case (UserManager.create_user); people type them any way.
        return str(self.cleaned_data.get("username") or "").strip().lower()


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "web/password_reset.html"
    email_template_name = "web/password_reset_email.txt"
    subject_template_name = "web/password_reset_subject.txt"
    success_url = reverse_lazy("web:password-reset-done")

    @property
    def extra_email_context(self) -> dict[str, Any]:  # type: ignore[override]
        # The link is built on the configured public URL, never on the request's Host
        # header, which a stranger could point at their own server.
        return {"base_url": str(settings.PULSEBOARD["BASE_URL"]).rstrip("/")}


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "web/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "web/password_reset_confirm.html"
    success_url = reverse_lazy("web:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "web/password_reset_complete.html"
