"""Who performed an action. Every service that writes takes ``actor: Actor``, keyword-only
and last, and the change rows and ledger entries it writes record it.

An actor is one of five kinds:

- ``staff``: a provider staff user in the admin;
- ``portal``: a merchant's user in a portal;
- ``api_key``: a store calling the API with one of its keys (the key is recorded, and the
  user who created it is not: the key acted, not its creator);
- ``member``: a member on a page they reach by a signed link (their ticket page): they
  have no user, and the row they touch already names them;
- ``system``: a scheduled job or a worker, named (``"expire_points"``).

Build one at the edge (``Actor.staff(request.user)``, ``Actor.api_key(key)``,
``Actor.system("dispatch")``) and pass it down; nothing below the edge guesses who acted.
A change row records an actor in two nullable columns, the user and the API key
(``actor_fields``); a job or a member leaves both empty and the row's ``source`` or kind
says which.
"""

from dataclasses import dataclass
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

ActorKind = Literal["staff", "portal", "api_key", "member", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    user: AbstractBaseUser | None = None
    # The API key's primary key (``MerchantAPIKey.id``, which starts with its prefix).
    api_key_id: str | None = None
    name: str = ""

    @classmethod
    def staff(cls, user: AbstractBaseUser | AnonymousUser | None) -> "Actor":
        return cls._for_user("staff", user)

    @classmethod
    def portal(cls, user: AbstractBaseUser | AnonymousUser | None) -> "Actor":
        return cls._for_user("portal", user)

    @classmethod
    def api_key(cls, key: Any) -> "Actor":
        """``key`` is a ``MerchantAPIKey`` (core does not import the merchants app)."""
        return cls(kind="api_key", api_key_id=str(key.pk), name=api_key_label(key.pk))

    @classmethod
    def member(cls) -> "Actor":
        return cls(kind="member", name="member")

    @classmethod
    def system(cls, name: str = "system") -> "Actor":
        return cls(kind="system", name=name)

    @classmethod
    def _for_user(cls, kind: ActorKind, user: Any) -> "Actor":
        if isinstance(user, AbstractBaseUser):
            return cls(kind=kind, user=user, name=user.get_username())
        return cls.system()

    @property
    def label(self) -> str:
        """How the actor is shown in a timeline, and kept when the user or key is gone."""
        return self.name or self.kind


SYSTEM = Actor.system()


def require_actor(actor: Actor) -> Actor:
    """``actor`` itself; a bare user or None is a caller that was not converted, and fails."""
    if not isinstance(actor, Actor):
        raise TypeError("actor must be a core.actors.Actor")
    return actor


def actor_user(actor: Actor) -> AbstractBaseUser | None:
    """The user who acted, for a foreign key to the user model (None for a key or a job)."""
    return require_actor(actor).user


def actor_api_key_id(actor: Actor) -> str | None:
    return require_actor(actor).api_key_id


def actor_label(actor: Actor) -> str:
    return require_actor(actor).label


def actor_fields(actor: Actor, *, user_field: str = "actor") -> dict[str, Any]:
    """The columns a change row or ledger entry records its actor in: the user (under
    ``user_field``) and the API key. Spread into the row: ``Event(..., **actor_fields(a))``."""
    actor = require_actor(actor)
    return {user_field: actor.user, "api_key_id": actor.api_key_id}


def history_user(actor: Actor) -> AbstractBaseUser | None:
    """django-simple-history's ``history_user`` for a change this actor made: the user, or
    None for an API key or a job (the history row's change reason names those)."""
    return actor_user(actor)


def api_key_label(api_key_id: Any) -> str:
    """``"API key Ab12Cd34"``: a key's primary key is its visible prefix, a dot and the
    hash, so the label needs no query."""
    return f"API key {str(api_key_id).partition('.')[0]}"


def recorded_actor_label(*, user: AbstractBaseUser | None, api_key_id: str | None) -> str:
    """Who a stored row says acted, for a timeline: the user's name, the key, or empty
    (a job or the member; the row's source or kind says which)."""
    if user is not None:
        return user.get_username()
    if api_key_id:
        return api_key_label(api_key_id)
    return ""
