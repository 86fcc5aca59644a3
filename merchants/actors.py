"""Who performed an action: a staff or portal user, or the system (a scheduled job)."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

Actor = AbstractBaseUser | AnonymousUser | None


def actor_user(actor: Actor) -> AbstractBaseUser | None:
    return actor if isinstance(actor, AbstractBaseUser) else None


def actor_label(actor: Actor) -> str:
    user = actor_user(actor)
    return user.get_username() if user is not None else "system"
