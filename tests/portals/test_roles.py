"""The role matrix: every portal URL and role answers as designed. ``MATRIX`` is literal;
a portal URL without a row fails ``test_every_portal_url_has_a_row``."""

import pytest
from django.urls import reverse

from tests.portals.factories import signed_in
from tests.portals.test_tenancy import OWN_ARGS, TABLE
from tests.portals.urltable import portal_url_names

pytestmark = pytest.mark.django_db

ROLES = ("owner", "analyst", "support")

# GET status for (owner, analyst, support).
MATRIX: dict[str, tuple[int, int, int]] = {
    "dashboard": (200, 200, 200),
    "choose": (200, 200, 200),
    "brand_css": (200, 200, 200),
    "members": (200, 200, 200),
    "member": (200, 200, 200),
    "team": (200, 403, 403),
    "team_role": (200, 403, 403),
    "team_remove": (200, 403, 403),
    "account": (200, 200, 200),
    "report_csv": (200, 200, 403),
    "report_zip": (200, 200, 403),
    "monthly_reports": (200, 200, 403),
    "monthly_report_pdf": (200, 200, 403),
    "monthly_report_draft": (405, 405, 405),
    "referrals": (200, 200, 403),
    "invoices": (200, 403, 403),
    "member_exports": (200, 403, 403),
    "member_export": (200, 403, 403),
    "invoice_pdf": (200, 403, 403),
    "webhooks": (200, 403, 403),
    "webhook": (200, 403, 403),
    "webhook_manage": (200, 403, 403),
    "view_as_end": (405, 405, 405),
}


def test_every_portal_url_has_a_row():
    assert set(MATRIX) == portal_url_names()


@pytest.mark.parametrize("name", sorted(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_what_the_matrix_says(pair, name, role):
    a, _ = pair
    expected = MATRIX[name][ROLES.index(role)]
    args = TABLE[name]
    url = reverse(f"portals:{name}", kwargs=args(a) if args else OWN_ARGS.get(name))

    response = signed_in(getattr(a, role)).get(url)

    assert response.status_code == expected
    if expected == 403:
        assert "not available for your role" in response.content.decode()


@pytest.mark.parametrize("role", ["analyst", "support"])
def test_a_refused_role_cannot_post_either(pair, role):
    a, _ = pair
    client = signed_in(getattr(a, role))
    target = a.membership("owner")

    for name in ("team_role", "team_remove"):
        response = client.post(
            reverse(f"portals:{name}", kwargs={"membership_id": target.pk}), {"role": "support"}
        )
        assert response.status_code == 403
    response = client.post(reverse("portals:team"), {"email": "x@example.com", "role": "owner"})
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.role == "owner"


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("owner", ["Dashboard", "Members", "Team", "Account"], []),
        ("analyst", ["Dashboard", "Members", "Account"], ["Team"]),
        ("support", ["Dashboard", "Members", "Account"], ["Team"]),
    ],
)
def test_the_navigation_shows_each_role_its_pages_only(pair, role, shown, hidden):
    a, _ = pair
    page = signed_in(getattr(a, role)).get(reverse("portals:dashboard")).content.decode()
    nav = page.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
    for label in shown:
        assert f">{label}</a>" in nav
    for label in hidden:
        assert f">{label}</a>" not in nav
