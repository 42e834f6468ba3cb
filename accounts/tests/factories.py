import factory

from accounts.models import Role, User
from accounts.services.users import user_create

PASSWORD = "correct horse battery staple"


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
