"""Member messages in the ops console: the merchants' templates (edited with a preview
rendered for a sample member in the template's language and the merchant's brand), the
log of every message (a member's own are on the member page's "Consents and messages"
tab)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin

from core.admin.readonly import ReadOnlyAdmin
from loyalty.messages import content, emails
from loyalty.models import MemberMessage, MessageTemplate


class MessageTemplateForm(forms.ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["merchant", "kind", "locale", "subject", "body", "is_active"]
        widgets = {
            "subject": forms.TextInput(attrs={"size": 80}),
            "body": forms.Textarea(attrs={"rows": 12, "cols": 80}),
        }
        help_texts = {
            "body": "Plain text, paragraphs separated by a blank line; the fields below may "
            "be used.",
        }

    def clean(self):
        cleaned = super().clean()
        subject, body = cleaned.get("subject"), cleaned.get("body")
        if subject and body:
            try:
                content.template_check(subject=subject, body=body)
            except content.TemplateRefused as refused:
                field = "subject" if str(refused).startswith("The subject") else "body"
                raise ValidationError({field: str(refused)}) from refused
        return cleaned


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ModelAdmin):
    form = MessageTemplateForm
    list_display = ["merchant", "kind", "locale", "subject", "is_active", "updated_at", "preview"]
    list_filter = ["kind", "locale", "is_active"]
    search_fields = ["merchant__name", "merchant__slug", "subject"]
    list_select_related = ["merchant"]
    autocomplete_fields = ["merchant"]
    readonly_fields = ["fields_help", "updated_at"]
    fieldsets = [
        (None, {"fields": ["merchant", ("kind", "locale"), "is_active"]}),
        ("Wording", {"fields": ["subject", "body", "fields_help"]}),
        ("Record", {"fields": ["updated_at"], "classes": ["collapse"]}),
    ]

    @admin.display(description="Fields")
    def fields_help(self, obj: MessageTemplate | None) -> str:
        rows = format_html_join(
            "", "<li><code>{{{{ {} }}}}</code>: {}</li>", content.FIELDS.items()
        )
        return format_html(
            "<ul>{}</ul><p>Also <code>{{% if points %}}…{{% endif %}}</code>, "
            "<code>{{% comment %}}</code> and the filters {}. Nothing else is allowed: a "
            "template that uses more is refused when saved. Without an active template, "
            "members get the built-in wording in their language.</p>",
            rows,
            ", ".join(f"|{name}" for name in sorted(content.FILTERS)),
        )

    @admin.display(description="Preview")
    def preview(self, obj: MessageTemplate) -> str:
        url = reverse("admin:loyalty_messagetemplate_preview", args=[obj.pk])
        return format_html('<a href="{}">Preview</a>', url)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/preview/",
                view(self.preview_view),
                name="loyalty_messagetemplate_preview",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if object_id:
            extra_context["preview_url"] = reverse(
                "admin:loyalty_messagetemplate_preview", args=[object_id]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        template = get_object_or_404(MessageTemplate.objects.select_related("merchant"), pk=pk)
        error = ""
        email = None
        try:
            email = emails.message_preview(
                merchant=template.merchant,
                kind=template.kind,
                locale=template.locale,
                template=template,
            )
        except Exception as failure:  # a template saved before the checks: say why
            error = str(failure)
        html = ""
        if email is not None:
            html = email.alternatives[0].content if email.alternatives else ""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Preview: {template}",
            "template": template,
            "email": email,
            "html_card": _card(html),
            "list_unsubscribe": email.extra_headers.get("List-Unsubscribe", "") if email else "",
            "error": error,
        }
        return TemplateResponse(request, "admin/loyalty/messagetemplate/preview.html", context)


def _card(html: str) -> str:
    """The email's card (the ``<table>`` inside its ``<body>``), to show within the page."""
    start, end = html.find("<body"), html.rfind("</body>")
    if start < 0 or end < 0:
        return ""
    start = html.index(">", start) + 1
    return html[start:end]


@admin.register(MemberMessage)
class MemberMessageAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "merchant",
        "member_link",
        "kind",
        "status",
        "subject",
        "opened_at",
    ]
    list_filter = ["status", "kind", "category", "locale"]
    search_fields = ["member__external_id", "to_email", "merchant__slug", "key"]
    list_select_related = ["merchant", "member"]
    date_hierarchy = "created_at"
    list_per_page = 50
    exclude = ["token"]

    @admin.display(description="Member", ordering="member__external_id")
    def member_link(self, obj: MemberMessage) -> str:
        url = reverse("admin:loyalty_member_change", args=[obj.member_id])
        return format_html('<a href="{}">{}</a>', url, obj.member.external_id)
