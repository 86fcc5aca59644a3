"""Who works a ticket: manual assignment, "take it", and round robin among available
agents of the Customer care group who are under their open-ticket cap.

Round robin gives the ticket to the eligible agent assigned longest ago (never assigned
first). The agents' profile rows are locked in id order for the choice, so two tickets
opened at once go to two agents, not both to the same one."""

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q

from customercare import locks
from customercare.models import UNRESOLVED_STATUSES, AgentProfile, Ticket, TicketEvent

CARE_GROUP = "Customer care"


def agent_can_work(user: AbstractBaseUser) -> bool:
    """An active staff user in the Customer care group (or a superuser)."""
    if not (user.is_active and getattr(user, "is_staff", False)):
        return False
    return bool(user.is_superuser or user.groups.filter(name=CARE_GROUP).exists())


def open_ticket_counts(user_ids: list[int]) -> dict[int, int]:
    rows = (
        Ticket.objects.filter(assignee_id__in=user_ids, status__in=UNRESOLVED_STATUSES)
        .values("assignee_id")
        .annotate(n=Count("id"))
    )
    return {row["assignee_id"]: row["n"] for row in rows}


def assign_round_robin(*, ticket: Ticket, now: datetime.datetime) -> AbstractBaseUser | None:
    """Assign ``ticket`` (locked by the caller, unassigned) to the next eligible agent;
    ``None`` when every agent is away or full."""
    agents = get_user_model().objects.filter(
        Q(groups__name=CARE_GROUP) | Q(is_superuser=True), is_active=True, is_staff=True
    )
    profiles = locks.agent_profiles_lock(users=agents)
    if not profiles:
        return None
    counts = open_ticket_counts([profile.user_id for profile in profiles])
    eligible = [p for p in profiles if counts.get(p.user_id, 0) < p.max_open_tickets]
    if not eligible:
        return None
    epoch = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    chosen = min(eligible, key=lambda p: (p.last_assigned_at or epoch, p.pk))
    # The chosen agent goes to the back of the queue: after everyone assigned so far,
    # even when this ticket's ``now`` is not later than theirs (two tickets opened in the
    # same instant, a caller's clock behind another's), else they would be chosen again.
    latest = max((p.last_assigned_at for p in profiles if p.last_assigned_at), default=epoch)
    stamp = max(now, latest + datetime.timedelta(microseconds=1))
    AgentProfile.objects.filter(pk=chosen.pk).update(last_assigned_at=stamp)
    user = get_user_model().objects.get(pk=chosen.user_id)
    old = ticket.assignee
    Ticket.objects.filter(pk=ticket.pk).update(assignee=user)
    ticket.assignee = user
    TicketEvent.objects.create(
        ticket=ticket,
        field="assignee",
        from_value=old.get_username() if old else "",
        to_value=user.get_username(),
        source="system",
        note="round robin",
    )
    return user


__all__ = ["CARE_GROUP", "agent_can_work", "assign_round_robin", "open_ticket_counts"]
