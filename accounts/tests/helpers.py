from rest_framework.test import APIClient

from accounts.tests.factories import PASSWORD


def login_password_step(client: APIClient, username: str, password: str = PASSWORD, **extra) -> dict:
    """POST /auth/login and return its 200 body: tokens, or `mfa_required` for an enrolled user."""
    response = client.post(
        "/api/v1/auth/login", {"username": username, "password": password, **extra}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def login(client: APIClient, username: str, password: str = PASSWORD, **extra) -> dict:
    """Log in through the API and return the token response; for a user enrolled in MFA both
    steps, the second with a fresh code from their device (as the person would type it)."""
    body = login_password_step(client, username, password, **extra)
    if not body.get("mfa_required"):
        return body
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user__username__iexact=username, confirmed=True)
    response = client.post(
        "/api/v1/auth/login/mfa",
        {"mfa_token": body["mfa_token"], "code": totp_code_unused(device)},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def staff_login(client, user) -> None:
    """The Django test client logged in to the admin as `user` after both factors, the way
    django-otp records a verified session (the device's id in the session)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client.force_login(user)
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def bearer_client(credential: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {credential}")
    return client


def totp_code(device, *, steps_ahead: int = 0) -> str:
    """The code an authenticator app with a correct clock shows for this device now (or
    `steps_ahead` 30 s steps later), computed with django-otp's own RFC 6238 code."""
    import time

    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, drift=0)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def totp_code_unused(device) -> str:
    """A code this device accepts and has not accepted before (django-otp refuses replays):
    the first time step after its `last_t` inside the window it accepts now."""
    import time

    from django_otp.oath import hotp

    device.refresh_from_db()
    now_t = int((time.time() - device.t0) // device.step) + device.drift
    for t in range(now_t - device.tolerance, now_t + device.tolerance + 1):
        if t > device.last_t:
            return f"{hotp(device.bin_key, t, digits=device.digits):0{device.digits}d}"
    raise AssertionError("every code of the accepted window was used: wait for the next step")


def mfa_enrol(user):
    """Enrol a TOTP device through the services; returns (device, recovery codes)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.services.mfa import totp_confirm, totp_device_create

    totp_device_create(user_id=user.pk)
    device = TOTPDevice.objects.get(user_id=user.pk)
    codes = totp_confirm(user_id=user.pk, code=totp_code(device))
    user.refresh_from_db()
    device.refresh_from_db()
    return device, codes


def login_mfa(client: APIClient, username: str, device, password: str = PASSWORD) -> dict:
    """Both login steps with a fresh code; returns the token response."""
    first = login_password_step(client, username, password)
    assert first["mfa_required"] is True, first
    response = client.post(
        "/api/v1/auth/login/mfa",
        {"mfa_token": first["mfa_token"], "code": totp_code_unused(device)},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()
