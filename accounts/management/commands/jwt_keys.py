from django.core.management.base import BaseCommand, CommandError

from accounts import signing
from core.commands import table
from core.request import RequestMeta


def _time(value) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "-"


class Command(BaseCommand):
    help = "JWT signing keys: list, rotate, retire KID (emergency), rewrap (after a new encryption key)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "list", help="every key: kid, algorithm, state, created, activates, valid until, retired"
        )
        sub.add_parser(
            "rotate",
            help="a new key of JWT_ALGORITHM: in the JWKS at once, signs after JWT_KEY_PUBLISH_SECONDS",
        )
        retire = sub.add_parser("retire", help="emergency: out of the JWKS and its tokens refused at once")
        retire.add_argument("kid")
        sub.add_parser("rewrap", help="re-encrypt private keys with the first JWT_KEY_ENCRYPTION_KEYS key")

    def handle(self, *args, **options):
        action = options["action"]
        meta = RequestMeta.operator(f"jwt_keys {action}")
        try:
            if action == "list":
                self._list()
            elif action == "rotate":
                key = signing.signing_key_rotate(meta=meta)
                self.stdout.write(
                    self.style.SUCCESS(
                        f"New {key.algorithm} key {key.kid}: published now, signs from {_time(key.activates_at)} UTC."
                    )
                )
            elif action == "retire":
                key, replacement = signing.signing_key_retire(kid=options["kid"], meta=meta)
                self.stdout.write(self.style.SUCCESS(f"Retired key {key.kid}: its tokens are refused now."))
                if replacement is not None:
                    self.stdout.write(f"Key {replacement.kid} ({replacement.algorithm}) signs from now on.")
            else:
                rewrapped, failed = signing.signing_keys_rewrap()
                self.stdout.write(
                    f"Re-encrypted {rewrapped} private key(s) with the first key-encryption key."
                )
                if failed:
                    raise CommandError(
                        f"no JWT_KEY_ENCRYPTION_KEYS key decrypts key(s) {', '.join(failed)}: add the old key back"
                    )
        except signing.SigningKeyError as exc:
            raise CommandError(exc.message) from None

    def _list(self) -> None:
        rows = [("KID", "ALGORITHM", "STATE", "CREATED", "SIGNS FROM", "VALID UNTIL", "RETIRED")]
        for key, state, valid_until in signing.signing_key_list():
            rows.append(
                (
                    key.kid,
                    key.algorithm,
                    state,
                    _time(key.created_at),
                    _time(key.activates_at),
                    _time(valid_until),
                    _time(key.retired_at),
                )
            )
        for line in table(rows):
            self.stdout.write(line)
        self.stdout.write(f"{len(rows) - 1} key(s)")
