"""The small HTML page a password-reset email links to."""

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from accounts.services.history import password_history_check
from accounts.services.passwords import password_reset_finish, password_set
from accounts.services.verification import email_verification_user, email_verify
from accounts.validators import password_too_long, password_too_long_message
from core.errors import ServiceError
from core.request import RequestMeta


class ResetPasswordForm(SetPasswordForm):
    def __init__(self, *args, request=None, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def clean(self):
        # Before Django's validators: their similarity check is slow on huge input.
        password = self.cleaned_data.get("new_password1") or ""
        if password_too_long(password):
            raise forms.ValidationError(password_too_long_message())
        return super().clean()

    def save(self, commit=True):
        password_reset_finish(
            user=self.user,
            new_password=self.cleaned_data["new_password1"],
            token=self.request.session.get(auth_views.INTERNAL_RESET_SESSION_TOKEN, ""),
            meta=RequestMeta.from_request(self.request),
        )
        return self.user


class ResetPasswordPageView(auth_views.PasswordResetConfirmView):
    """Django's confirm view (it moves the token out of the URL before the form shows),
    finishing through the same service as the API."""

    form_class = ResetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password-reset-done")
    post_reset_login = False

    def get_user(self, uidb64):
        # Like the API: a deactivated account's outstanding links stop working.
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except ServiceError as exc:  # the link was used meanwhile (a double submit)
            form.add_error(None, exc.message)
            return self.form_invalid(form)


@method_decorator(csrf_exempt, name="dispatch")
class VerifyEmailPageView(View):
    """The page a verification mail links to. GET only shows a button (mail scanners fetch
    links; only a person's POST verifies), POST verifies through the API's service.

    No CSRF check: the token in the URL is the whole credential (whoever holds it can POST
    to /api/v1/auth/verify-email anyway), and the page sends no Referer (base.html), so the
    browser's Origin is "null", which Django's check would refuse.
    """

    template_name = "accounts/verify_email.html"

    def get(self, request, uidb64: str, token: str):
        valid = email_verification_user(uidb64=uidb64, token=token) is not None
        return render(request, self.template_name, {"valid": valid}, status=200 if valid else 400)

    def post(self, request, uidb64: str, token: str):
        try:
            email_verify(uidb64=uidb64, token=token, meta=RequestMeta.from_request(request))
        except ServiceError:
            return render(request, self.template_name, {"valid": False}, status=400)
        return render(request, self.template_name, {"verified": True})


class ResetPasswordDoneView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_done.html"


class StaffPasswordChangeForm(PasswordChangeForm):
    def __init__(self, user, *args, request=None, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("new_password1")
        if password and not self.errors:
            try:
                password_history_check(user=self.user, password=password)
            except ServiceError as exc:
                self.add_error("new_password2", " ".join(m for ms in (exc.errors or {}).values() for m in ms))
        return cleaned

    def save(self, commit=True):
        password_set(
            user=self.user,
            new_password=self.cleaned_data["new_password1"],
            meta=RequestMeta.from_request(self.request),
        )
        self.user.refresh_from_db()
        return self.user


class StaffPasswordChangeView(auth_views.PasswordChangeView):
    """The admin's "Change password" page, through the same service (validated, audited,
    API sessions revoked) instead of Django's direct save."""

    form_class = StaffPasswordChangeForm
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("admin:password_change_done")

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def get_context_data(self, **kwargs):
        from django.contrib import admin

        return {**admin.site.each_context(self.request), **super().get_context_data(**kwargs)}
