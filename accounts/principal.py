"""Who an authenticated request is: a frozen snapshot of the user, never a database row."""

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from accounts.roles import has_staff_access


@dataclass(frozen=True)
class Principal:
    """`request.user` for a token or an API key, like simplejwt's `TokenUser`: the fields the
    shared cache holds, as plain attributes. Reading them costs nothing, and nothing here loads
    the row: a service that needs the row loads it by `id`, explicitly.
    """

    id: int
    username: str
    email: str
    full_name: str
    role: str
    is_active: bool
    date_joined: datetime
    last_login: datetime | None
    # Defaults: a snapshot cached before these fields existed still loads.
    mfa_enabled: bool = False
    email_verified: bool = False

    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    @property
    def pk(self) -> int:
        return self.id

    @property
    def is_staff(self) -> bool:
        return has_staff_access(role=self.role, is_active=self.is_active)

    @property
    def is_superuser(self) -> bool:
        return self.is_staff

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> "Principal":
        return cls(**snapshot)

    def snapshot(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return self.username


SNAPSHOT_FIELDS = tuple(field.name for field in fields(Principal))
