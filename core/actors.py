"""Who performed an action. Every service that writes takes ``actor: Actor``, keyword-only
and last, and the change rows and ledger entries it writes record it.

An actor is one of four kinds:

- ``staff``: a provider staff user in the admin;
- ``portal``: a merchant's or a member's user in a portal;
- ``api_key``: a store calling the API with one of its keys (the key is recorded, and the
  user who created it is not: the key acted, not its creator);
- ``system``: a scheduled job or a worker, named (``"expire_points"``).

Build one at the edge (``Actor.staff(request.user)``, ``Actor.api_key(key)``,
``Actor.system("dispatch")``) and pass it down; nothing below the edge guesses who acted.
"""

from dataclasses import dataclass
from typing import Any, Literal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

ActorKind = Literal["staff", "portal", "api_key", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    user: AbstractBaseUser | None = None
    # The API key's primary key (``MerchantAPIKey.id``) and its visible prefix.
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
        return cls(kind="api_key", api_key_id=str(key.pk), name=f"API key {key.prefix}")

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

# What services accepted before actors were typed: a user, an anonymous user or nothing.
ActorLike = Actor | AbstractBaseUser | AnonymousUser | None


def as_actor(actor: ActorLike) -> Actor:
    if isinstance(actor, Actor):
        return actor
    return Actor.staff(actor)


def actor_user(actor: ActorLike) -> AbstractBaseUser | None:
    """The user who acted, for a foreign key to the user model (None for a key or a job)."""
    return as_actor(actor).user


def actor_api_key_id(actor: ActorLike) -> str | None:
    return as_actor(actor).api_key_id


def actor_label(actor: ActorLike) -> str:
    return as_actor(actor).label


def history_user(actor: ActorLike) -> AbstractBaseUser | None:
    """django-simple-history's ``history_user`` for a change this actor made: the user, or
    None for an API key or a job (the history row's change reason names those)."""
    return actor_user(actor)
