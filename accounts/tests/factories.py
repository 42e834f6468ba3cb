import factory

from accounts.models import Role, Session, User
from accounts.services.sessions import session_start
from accounts.services.users import user_create
from accounts.tokens import TokenPair
from core.request import RequestMeta

PASSWORD = "correct horse battery staple"
SESSION_META = RequestMeta(ip_address="203.0.113.9", user_agent="pytest")


class UserFactory(factory.Factory):
    """Users made through the same service as registration."""

    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    # Not Faker names: a random name can be "too similar" to a test password (Django's
    # similarity validator), which made tests fail at random.
    full_name = factory.Sequence(lambda n: f"User {n}")
    role = Role.USER
    password = PASSWORD

    @classmethod
    def _create(cls, model_class, **kwargs):
        return user_create(**kwargs)


def session_open(
    user: User, *, remember_me: bool = False, meta: RequestMeta = SESSION_META
) -> tuple[Session, TokenPair]:
    """A session with its first tokens, opened by the service a login uses (after the password check)."""
    return session_start(user=user, remember_me=remember_me, meta=meta)
