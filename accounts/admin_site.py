"""Gatehouse's Django admin site: a second factor at login for enrolled users, and enrolment
(a QR code page) before any other page for a role in MFA_REQUIRED_FOR_ROLES."""

from functools import update_wrapper

import django_otp
from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.errors import MFA_CODE_INVALID
from accounts.roles import mfa_required_for
from accounts.services.lockouts import admin_login_record, admin_login_refused, login_failure_record
from accounts.services.mfa import (
    totp_confirm,
    totp_device_create,
    totp_device_pending,
    totp_setup_describe,
)
from accounts.services.sessions import mfa_code_check_for_login
from core.errors import ServiceError
from core.request import RequestMeta

CODE_REQUIRED = "Enter the code from your authenticator app (or a recovery code)."


class AdminLoginForm(AdminAuthenticationForm):
    """Django's admin login plus `otp_token`, checked through the same service as the API's
    second step (audited, counted toward the lockout)."""

    otp_token = forms.CharField(
        required=False,
        max_length=32,
        label="Authentication code:",
        help_text="Leave empty if you have not set up two-factor authentication yet.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean(self):
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            # Audited like API logins (`details.channel: "admin"`); axes counts the failure.
            identifier = self.cleaned_data.get("username") or ""
            if identifier and self.cleaned_data.get("password"):
                meta = RequestMeta.from_request(self.request)
                if self.user_cache is None:
                    login_failure_record(
                        request=self.request, identifier=identifier, meta=meta, channel="admin"
                    )
                else:  # the right password, but no staff access
                    admin_login_refused(user=self.user_cache, meta=meta)
            raise
        user = self.get_user()
        if user is not None and user.mfa_enabled:
            code = (cleaned.get("otp_token") or "").strip()
            if not code:
                raise forms.ValidationError(CODE_REQUIRED, code="otp_required")
            meta = RequestMeta.from_request(self.request)
            if not mfa_code_check_for_login(request=self.request, user=user, code=code, meta=meta):
                raise forms.ValidationError(MFA_CODE_INVALID, code="otp_invalid")
            # django_otp marks the session verified when login() sees this attribute.
            user.otp_device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        admin_login_record(user=user, meta=RequestMeta.from_request(self.request))
        return cleaned


class GatehouseAdminSite(admin.AdminSite):
    site_header = "Gatehouse administration"
    site_title = "Gatehouse"
    index_title = "Users, sessions, keys and the audit log"
    login_form = AdminLoginForm
    login_template = "admin/accounts/login.html"

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def guarded(request, *args, **kwargs):
            redirect = self._mfa_redirect(request)
            return redirect or inner(request, *args, **kwargs)

        return update_wrapper(guarded, view)

    def _mfa_redirect(self, request):
        """Where a staff session that has not proved a second factor must go instead."""
        user = request.user
        if not (user.is_active and user.is_staff) or user.is_verified():
            return None
        if request.path == reverse("admin:logout", current_app=self.name):
            return None
        if user.mfa_enabled:
            # Enrolled, but this cookie session never gave a code: log in again with one.
            logout(request)
            return HttpResponseRedirect(reverse("admin:login", current_app=self.name))
        if not mfa_required_for(user.role):
            return None
        enrol = reverse("admin:mfa_enrol", current_app=self.name)
        return None if request.path == enrol else HttpResponseRedirect(enrol)

    def get_urls(self):
        return [
            path("mfa/setup/", self.admin_view(self.mfa_enrol_view), name="mfa_enrol")
        ] + super().get_urls()

    def mfa_enrol_view(self, request):
        """Scan the QR code, confirm with a code: MFA on, this session verified, codes shown once."""
        user = request.user
        if user.mfa_enabled:
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        context = {**self.each_context(request), "title": "Set up two-factor authentication"}
        if request.method == "POST":
            try:
                codes = totp_confirm(
                    user_id=user.pk, code=request.POST.get("code", ""), meta=RequestMeta.from_request(request)
                )
            except ServiceError as exc:
                context["error"] = exc.message
            else:
                django_otp.login(request, TOTPDevice.objects.get(user_id=user.pk, confirmed=True))
                context.update(title="Two-factor authentication is on", recovery_codes=codes)
                return render(request, "admin/accounts/mfa_enrol.html", context)
        device = totp_device_pending(user=user)
        setup = totp_setup_describe(device) if device else totp_device_create(user_id=user.pk)
        context.update(secret=setup.secret, qr_svg=setup.qr_svg)
        return render(request, "admin/accounts/mfa_enrol.html", context)
