"""Customer care's shared reads answer only the merchant's own rows."""

import pytest

from customercare import selectors
from customercare.exceptions import TicketNotFound
from tests.customercare.factories import care_merchant, member_of, ticket_open

pytestmark = pytest.mark.django_db


def test_member_ticket_list_is_the_members_tickets_newest_first():
    member = member_of(care_merchant())
    first, second = ticket_open(member), ticket_open(member)
    ticket_open(member_of(member.merchant))

    listed = list(selectors.member_ticket_list(merchant=member.merchant, member=member))

    assert listed == [second, first]
    assert [m.body for m in selectors.public_messages(listed[0])] == ["I bought shoes last week."]


def test_member_ticket_list_never_shows_another_merchants_tickets():
    merchant = care_merchant()
    theirs = member_of(care_merchant())
    ticket_open(theirs)

    assert selectors.member_ticket_list(merchant=theirs.merchant, member=theirs).exists()
    assert not selectors.member_ticket_list(merchant=merchant, member=theirs).exists()


def test_ticket_get_never_finds_another_merchants_ticket():
    ticket = ticket_open(member_of(care_merchant()))

    assert selectors.ticket_get(merchant=ticket.merchant, reference=ticket.reference) == ticket
    with pytest.raises(TicketNotFound):
        selectors.ticket_get(merchant=care_merchant(), reference=ticket.reference)
