from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 as in production, at a cost that keeps the test suite quick."""

    time_cost = 1
    memory_cost = 256
    parallelism = 1
