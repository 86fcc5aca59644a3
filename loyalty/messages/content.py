"""What a member message says: the built-in wording of each kind in the member's
language, or the merchant's own template for that kind and language, filled with a
small set of fields.

A merchant template is a Django template run on a sandbox: its own engine with no
loaders and no tag libraries to load, a context of plain strings (never a model, so no
method of ours can be reached from it), and a check when it is saved that it uses only
``{% if %}`` and ``{% comment %}``, the fields below and a few text filters. A template
the check refuses never reaches a member; one that still fails when sent (it cannot,
short of a bug) falls back to the built-in wording.

Bodies are plain text, paragraphs separated by a blank line: the text part is the text,
the HTML part the same text escaped, its links made links. Numbers and dates are written
as the member's locale writes them (Babel).
"""

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from django.template import Context, Engine, Template, TemplateSyntaxError
from django.template.base import FilterExpression, Node, TextNode, VariableNode
from django.template.defaulttags import CommentNode, IfNode
from django.utils import timezone, translation
from django.utils.html import urlize
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from loyalty.models import MessageKind

# The fields a merchant template may use, with what the preview and the help text say.
FIELDS: dict[str, str] = {
    "member.first_name": "The member's first name (may be empty).",
    "program": "The program's name.",
    "points_name": 'What the program calls its points, e.g. "Stars".',
    "points": "The points the message is about (expiring, given).",
    "balance": "The member's spendable points.",
    "expiry_date": "When the points expire (points about to expire).",
    "tier": "The member's tier now (tier reached or lost; empty without one).",
    "previous_tier": "The tier before the change (tier reached or lost).",
    "achievement": "The achievement completed.",
    "referral_link": "The member's link to invite friends (welcome; empty without one).",
    "shop_link": "The store's address.",
}
FILTERS = {"default", "upper", "lower", "title", "capfirst"}
_ROOTS = {name.split(".")[0] for name in FIELDS}

# No loaders (an {% include %} or {% extends %} finds no file, and the check refuses both
# anyway) and no libraries, so {% load %} finds nothing to load.
ENGINE = Engine(
    dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=False, string_if_invalid=""
)


class TemplateRefused(ValueError):
    """A merchant template that would not render as it should; the message says why."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    paragraphs: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def html(self) -> SafeString:
        """Each paragraph escaped, its web addresses made links, its lines kept."""
        return mark_safe(  # noqa: S308 - urlize escaped every paragraph itself
            "".join(
                "<p>"
                + urlize(paragraph, nofollow=True, autoescape=True).replace("\n", "<br>")
                + "</p>"
                for paragraph in self.paragraphs
            )
        )


# -- the fields, formatted for the reader ------------------------------------------------


def points_text(value: int, language: str) -> str:
    return format_decimal(value, locale=translation.to_locale(language))


def date_text(value: datetime.date, language: str) -> str:
    return format_date(value, format="long", locale=translation.to_locale(language))


def fields(
    *, first_name: str, program: str, points_name: str, data: dict[str, Any], language: str
) -> dict[str, Any]:
    """The template fields for one message: plain strings, nothing else."""
    expires_on = data.get("expires_on")
    return {
        "member": {"first_name": first_name},
        "program": program,
        "points_name": points_name,
        "points": points_text(int(data.get("points") or 0), language),
        "balance": points_text(int(data.get("balance") or 0), language),
        "expiry_date": date_text(expires_on, language) if expires_on else "",
        "tier": data.get("tier") or "",
        "previous_tier": data.get("previous_tier") or "",
        "achievement": data.get("achievement") or "",
        "referral_link": data.get("referral_link") or "",
        "shop_link": data.get("shop_link") or "",
    }


# -- the built-in wording ------------------------------------------------------------------


def builtin(kind: str, values: dict[str, Any], data: dict[str, Any]) -> Rendered:
    """The product's own wording of ``kind``, in the active language."""
    if kind == MessageKind.POINTS_EXPIRING:
        return Rendered(
            gettext("%(points)s %(points_name)s expire on %(expiry_date)s") % values,
            [
                gettext("%(points)s of your %(points_name)s expire on %(expiry_date)s.") % values,
                gettext("Spend them on a reward before then so that they are not lost."),
            ],
        )
    if kind == MessageKind.WELCOME:
        paragraphs = [
            gettext(
                "You are now a member of %(program)s. Your orders earn you %(points_name)s "
                "that you can spend on rewards."
            )
            % values
        ]
        if data.get("balance"):
            paragraphs.append(gettext("You already have %(balance)s %(points_name)s.") % values)
        if values["referral_link"]:
            paragraphs.append(
                gettext(
                    "Share your personal link with your friends: when a friend places a "
                    "first order, you earn %(points_name)s too."
                )
                % values
                + "\n"
                + values["referral_link"]
            )
        return Rendered(gettext("Welcome to %(program)s") % values, paragraphs)
    if kind == MessageKind.TIER_REACHED:
        return Rendered(
            gettext("You have reached %(tier)s") % values,
            [gettext("Congratulations! You are now a %(tier)s member of %(program)s.") % values],
        )
    if kind == MessageKind.TIER_LOST:
        first = (
            gettext("Your tier in %(program)s is now %(tier)s.")
            if values["tier"]
            else gettext("You are no longer a %(previous_tier)s member of %(program)s.")
        )
        return Rendered(
            gettext("Your tier in %(program)s has changed") % values,
            [first % values, gettext("Every order counts: shop again to move back up.")],
        )
    if kind == MessageKind.ACHIEVEMENT_COMPLETED:
        paragraphs = [gettext("Well done! You completed “%(achievement)s”.") % values]
        if data.get("points"):
            paragraphs.append(
                gettext("We added %(points)s %(points_name)s to your balance.") % values
            )
        return Rendered(gettext("Achievement completed: %(achievement)s") % values, paragraphs)
    if kind == MessageKind.REFERRAL_REWARDED:
        if data.get("side") == "friend":
            first = gettext(
                "Thank you for joining through a friend's invitation: we added %(points)s "
                "%(points_name)s to your balance."
            )
        else:
            first = gettext(
                "Thank you for recommending us! A friend you invited placed a first order, "
                "and we added %(points)s %(points_name)s to your balance."
            )
        return Rendered(gettext("You earned %(points)s %(points_name)s") % values, [first % values])
    raise ValueError(f"no wording for {kind!r}")


# -- merchant templates --------------------------------------------------------------------


def _expressions(node: Node) -> list[FilterExpression]:
    if isinstance(node, VariableNode):
        return [node.filter_expression]
    found: list[FilterExpression] = []
    if isinstance(node, IfNode):
        for condition, _ in node.conditions_nodelists:
            found += _condition_expressions(condition)
    return found


def _condition_expressions(condition: Any) -> list[FilterExpression]:
    if condition is None:
        return []
    if hasattr(condition, "value") and isinstance(condition.value, FilterExpression):
        return [condition.value]
    found: list[FilterExpression] = []
    for part in (getattr(condition, "first", None), getattr(condition, "second", None)):
        found += _condition_expressions(part)
    return found


def _walk(nodes) -> list[Node]:
    found = []
    for node in nodes:
        found.append(node)
        for attr in node.child_nodelists:
            found += _walk(getattr(node, attr, None) or [])
        if isinstance(node, IfNode):
            for _, nodelist in node.conditions_nodelists:
                found += _walk(nodelist)
    return found


def _check(source: str, what: str) -> Template:
    try:
        template = ENGINE.from_string(source)
    except TemplateSyntaxError as error:
        raise TemplateRefused(f"The {what} cannot be read: {error}") from error
    for node in _walk(template.nodelist):
        if not isinstance(node, TextNode | VariableNode | IfNode | CommentNode):
            tag = getattr(node, "token", None)
            shown = tag.contents.split()[0] if tag is not None else type(node).__name__
            raise TemplateRefused(
                f"The {what} uses {{% {shown} %}}; only {{% if %}} and {{% comment %}} may be used."
            )
        for expression in _expressions(node):
            var = expression.var
            lookups = getattr(var, "lookups", None)
            if lookups is None:  # a literal: "text" or 3
                continue
            name = ".".join(lookups)
            if name not in FIELDS:
                known = ", ".join(f"{{{{ {field_name} }}}}" for field_name in FIELDS)
                raise TemplateRefused(
                    f"The {what} uses {{{{ {name} }}}}, which is not a field. The fields are: "
                    f"{known}."
                )
            for function, _ in expression.filters:
                filter_name = getattr(function, "__name__", "")
                if filter_name not in FILTERS:
                    raise TemplateRefused(
                        f"The {what} uses the filter |{filter_name}; only "
                        + ", ".join(f"|{name}" for name in sorted(FILTERS))
                        + " may be used."
                    )
    return template


def template_check(*, subject: str, body: str) -> None:
    """Refuse (``TemplateRefused``) a subject or body that uses more than the sandbox
    allows, or that does not render with sample fields."""
    for source, what in ((subject, "subject"), (body, "body")):
        template = _check(source, what)
        try:
            output = template.render(Context(sample_fields(), autoescape=False))
        except Exception as error:  # any failure at all is a reason to refuse it
            raise TemplateRefused(f"The {what} does not render: {error}") from error
        if not output.strip():
            raise TemplateRefused(f"The {what} is empty once rendered.")


def merchant_rendered(*, subject: str, body: str, values: dict[str, Any]) -> Rendered:
    """A merchant template filled with ``values``; ``TemplateRefused`` if it is refused."""
    subject_text = _check(subject, "subject").render(Context(values, autoescape=False))
    body_text = _check(body, "body").render(Context(values, autoescape=False))
    body_text = body_text.replace("\r\n", "\n")
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", body_text) if part.strip()]
    return Rendered(" ".join(subject_text.split())[:200], paragraphs)


def sample_data(kind: str) -> dict[str, Any]:
    """What a message of ``kind`` could be about, for the preview and the save check."""
    today = timezone.localdate()
    return {
        "points": 800 if kind != MessageKind.WELCOME else 0,
        "balance": 1250,
        "expires_on": today + datetime.timedelta(days=7),
        "tier": "" if kind == MessageKind.TIER_LOST else "Gold",
        "previous_tier": "Gold" if kind == MessageKind.TIER_LOST else "Silver",
        "achievement": "Three orders in 30 days",
        "referral_link": "https://loyalty.example/r/ALEX2026",
        "shop_link": "https://shop.example/",
    }


def sample_fields() -> dict[str, Any]:
    return fields(
        first_name="Alex",
        program="Rewards",
        points_name="Stars",
        data=sample_data(MessageKind.POINTS_EXPIRING),
        language="en",
    )
