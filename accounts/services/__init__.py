"""Every write to accounts and sessions, one module per concern. Views, the admin and
commands all come through here; import from the concern's module (`accounts.services.users`).

- users: create, profile, role, active, delete, staff edits
- sessions: login, refresh rotation, logout, revocation
- passwords: change, reset, set by an operator
- lockouts: clearing failed-login records
- housekeeping: deleting what has expired
- mfa: TOTP devices, recovery codes, the login's second-step challenge
- verification: email verification links and registration
- history: password history
"""
