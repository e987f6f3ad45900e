"""Login, logout and the password reset flow, with Django's auth (the e-mail is the login).

Password reset e-mails its link when e-mail is configured (``PULSEBOARD_EMAIL_URL``,
``orgs/mail.py``). Without it the page says so and sends nothing: the link is never
written to a log, where anyone reading logs could take over any account. Requests are
throttled per e-mail address and per client (``orgs/login_throttle.py``), counted
whether or not the address has an account, and the answer never says whether it has
one. A mail the server did not take is reported as not sent, never as "on its way".
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse_lazy
from django.views import View

from pulseboard.core import clock
from pulseboard.core.client_address import client_ip
from pulseboard.orgs.login_throttle import ResetThrottled, reset_slot_take
from pulseboard.orgs.mail import mail_enabled, mail_send


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


class MailedPasswordResetForm(PasswordResetForm):
    """Django's reset form, sending through ``mail_send`` so a failure is known, not hidden."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self.unsent = 0

    def send_mail(  # type: ignore[override]
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        body = render_to_string(email_template_name, context)
        if not mail_send(to=to_email, subject=subject, body=body):
            self.unsent += 1


def _handles(view: View[Any], request: HttpRequest) -> bool:
    """The view takes this method (others keep Django's 405)."""
    method = str(request.method).lower()
    return method in view.http_method_names and hasattr(view, method)


def _mail_off(request: HttpRequest) -> HttpResponse:
    return render(request, "web/password_reset.html", {"mail_off": True})


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "web/password_reset.html"
    email_template_name = "web/password_reset_email.txt"
    subject_template_name = "web/password_reset_subject.txt"
    form_class = MailedPasswordResetForm
    success_url = reverse_lazy("web:password-reset-done")

    @property
    def extra_email_context(self) -> dict[str, Any]:  # type: ignore[override]
        # The link is built on the configured public URL, never on the request's Host
        # header, which a stranger could point at their own server.
        return {"base_url": str(settings.PULSEBOARD["BASE_URL"]).rstrip("/")}

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not mail_enabled() and _handles(self, request):
            # GET and POST alike get the explanation; nothing is sent, nothing logged.
            return _mail_off(request)
        return super().dispatch(request, *args, **kwargs)

    def form_valid(self, form: MailedPasswordResetForm) -> HttpResponse:  # type: ignore[override]
        try:
            reset_slot_take(
                email=form.cleaned_data["email"], ip=client_ip(self.request), now=clock.now()
            )
        except ResetThrottled as exc:
            form.add_error(None, exc)
            response = self.form_invalid(form)
            response.status_code = 429
            response["Retry-After"] = str(exc.retry_after)
            return response
        form.save(
            use_https=self.request.is_secure(),
            token_generator=self.token_generator,
            email_template_name=self.email_template_name,
            subject_template_name=self.subject_template_name,
            request=self.request,
            extra_email_context=self.extra_email_context,
        )
        if form.unsent:
            # Only an address with an account gets a mail, so this answer tells that the
            # address has one; saying "on its way" for a mail that was not sent would be
            # worse. It needs the mail server to be failing, which the log reports.
            form.add_error(
                None,
                "The e-mail could not be sent: the mail server did not accept it. "
                "Try again later, or ask the person who runs this Pulseboard server.",
            )
            response = self.form_invalid(form)
            response.status_code = 503
            return response
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "web/password_reset_done.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Without e-mail nothing was sent: no page may say "check your e-mail".
        if not mail_enabled() and _handles(self, request):
            return redirect("web:password-reset")
        return super().dispatch(request, *args, **kwargs)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "web/password_reset_confirm.html"
    success_url = reverse_lazy("web:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "web/password_reset_complete.html"
