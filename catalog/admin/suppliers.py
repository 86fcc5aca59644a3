"""Suppliers and their adapter settings.

The settings are a form field each, built from the adapter's schema (kind, bounds,
help), never a JSON text. Secrets are write-only: a password input that renders empty,
with a hint saying whether one is set and its last characters; left empty it keeps the
current secret, typed it replaces it. The adapter and the settings that decide where
secrets are sent (a base URL) are as protected as the secrets themselves: only staff
with the permission to change supplier credentials can change them; the others see them
disabled, and a request that changes them anyway is refused. Staff who may only view a
supplier see its settings masked. Saving goes through ``services.supplier_save``, which
checks the settings against the adapter's schema and the permission again.

Only one adapter's settings are on the page: the stored adapter's, or the one chosen (a
link per adapter above the settings, or the adapter chosen in the form once it is
saved: a setting the new adapter requires is then asked for)."""

from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from catalog import services
from catalog.exceptions import InvalidSupplierSettings
from catalog.models import Supplier
from catalog.supplier_settings import (
    Setting,
    SettingKind,
    SettingsSchema,
    adapter_schemas,
    mask,
    schema_for,
    stored_settings,
)
from core.actors import Actor
from core.admin.errors import ServiceErrorsAdmin, form_error
from core.exceptions import DomainError

FIELD_PREFIX = "setting_"
LOCKED_HELP = "Only staff with the permission to change supplier credentials can change it."


def field_name(setting_name: str) -> str:
    return f"{FIELD_PREFIX}{setting_name}"


def setting_field(setting: Setting) -> forms.Field:
    """The form field of one setting (the schema checks it again on save)."""
    common: dict[str, Any] = {
        "label": setting.title[:1].upper() + setting.title[1:],
        "help_text": setting.help_text,
        "required": setting.required and not setting.secret,
    }
    if setting.kind == SettingKind.INTEGER:
        return forms.IntegerField(
            min_value=setting.min_value, max_value=setting.max_value, **common
        )
    if setting.kind == SettingKind.NUMBER:
        return forms.FloatField(min_value=setting.min_value, max_value=setting.max_value, **common)
    if setting.kind == SettingKind.SECRET:
        widget: forms.Widget = forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password", "class": "vTextField"}
        )
    elif setting.kind == SettingKind.URL:
        widget = forms.URLInput(attrs={"class": "vURLField"})
    else:
        widget = forms.TextInput(attrs={"class": "vTextField"})
    return forms.CharField(max_length=setting.max_length, widget=widget, **common)


class SupplierForm(forms.ModelForm):
    """The supplier with one adapter's settings; ``SupplierAdmin.get_form`` builds the
    class for the adapter shown and the user's rights."""

    adapter = forms.ChoiceField(
        help_text="The fulfillment adapter that places its orders. Choosing another and "
        "saving asks for the settings it needs."
    )

    schema: ClassVar[SettingsSchema] = SettingsSchema()
    adapter_shown: ClassVar[str] = ""
    may_change_credentials: ClassVar[bool] = False

    class Meta:
        model = Supplier
        fields = [
            "name",
            "slug",
            "kind",
            "adapter",
            "invoice_currency",
            "rate_limit_per_minute",
            "is_active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = list(adapter_schemas())
        current = self.instance.adapter if self.instance.pk else ""
        if current and current not in names:
            names.insert(0, current)  # an adapter no longer known: shown, refused on save
        choices = [(name, name) for name in names]
        self.fields["adapter"].choices = choices if current else [("", "---------"), *choices]
        if self.adapter_shown:
            self.initial["adapter"] = self.adapter_shown
        locked = bool(self.instance.pk) and not self.may_change_credentials
        if locked:
            self.fields["adapter"].disabled = True
            self.fields["adapter"].help_text = LOCKED_HELP
        stored = self._stored_settings()
        for setting in self.schema.settings:
            field = self.fields[field_name(setting.name)]
            if setting.secret:
                field.help_text = " ".join(
                    part
                    for part in (setting.help_text, _secret_hint(stored.get(setting.name)))
                    if part
                )
            elif setting.name in stored:
                self.initial.setdefault(field_name(setting.name), stored[setting.name])
            if setting.protected and not self.may_change_credentials:
                field.disabled = True
                field.help_text = f"{field.help_text} {LOCKED_HELP}".strip()

    def _stored_settings(self) -> dict[str, Any]:
        """What the supplier stores for the adapter shown (nothing for another one)."""
        if not self.instance.pk:
            return {}
        stored = Supplier.objects.filter(pk=self.instance.pk).first()
        if stored is None or stored.adapter != self.adapter_shown:
            return {}
        try:
            return stored_settings(stored.adapter_config)
        except InvalidSupplierSettings:
            return {}

    def settings_values(self) -> dict[str, Any]:
        """The settings as submitted (a blank secret: keep the stored one)."""
        values = {}
        for setting in self.schema.settings:
            value = self.cleaned_data.get(field_name(setting.name))
            if value is not None and value != "":
                values[setting.name] = value
        return values

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # Disabled fields keep their stored values whatever is posted; a post that tries
        # to change them is refused outright rather than quietly ignored.
        refused = [
            name
            for name, field in self.fields.items()
            if field.disabled and self._posted_change(name, field)
        ]
        if refused:
            labels = ", ".join(str(self[name].label) for name in refused)
            raise forms.ValidationError(
                f"Not saved: changing {labels} needs the permission to change supplier credentials."
            )
        return cleaned

    def _posted_change(self, name: str, field: forms.Field) -> bool:
        if name not in self.data:
            return False
        posted = self.data.get(name) or ""
        if isinstance(field.widget, forms.PasswordInput):
            return bool(posted.strip())
        initial = self.get_initial_for_field(field, name)
        return posted.strip() != ("" if initial is None else str(initial))

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            change = services.supplier_settings_check(
                supplier=self.instance, settings=self.settings_values()
            )
        except DomainError as error:
            self._settings_error(error)
            return
        if change.locked and not self.may_change_credentials:
            self.add_error(
                None,
                f"Changing {', '.join(change.locked)} needs the permission to change "
                "supplier credentials.",
            )

    def _settings_error(self, error: DomainError) -> None:
        field_errors = error.extra.get("field_errors") or {error.field: error.detail}
        for name, message in field_errors.items():
            target = field_name(name) if field_name(name) in self.fields else name
            if target in self.fields:
                self.add_error(target, message)
            else:
                form_error(self, error)
                return


def _secret_hint(value: Any) -> str:
    if not value:
        return "Not set."
    return (
        f"Currently set, ends in {mask(str(value))}. Leave empty to keep it; type a new "
        "one to replace it."
    )


@admin.register(Supplier)
class SupplierAdmin(ServiceErrorsAdmin):
    form = SupplierForm
    list_display = [
        "name",
        "slug",
        "kind",
        "adapter",
        "invoice_currency",
        "rate_limit_per_minute",
        "is_active",
    ]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["settings_summary", "created_at", "updated_at"]
    show_full_result_count = False

    def _adapter_shown(self, request: HttpRequest, obj: Supplier | None) -> str:
        """The adapter whose settings the page shows: the one asked for (the form's
        choice, or a link's), when the user may change the adapter; else the stored."""
        schemas = adapter_schemas()
        source = request.POST if request.method == "POST" else request.GET
        asked = source.get("adapter") or ""
        may_choose = obj is None or services.supplier_may_change_credentials(
            actor=Actor.staff(request.user)
        )
        if asked in schemas and may_choose:
            return asked
        return obj.adapter if obj is not None else ""

    def _view_only(self, request: HttpRequest, obj: Supplier | None) -> bool:
        return obj is not None and not self.has_change_permission(request, obj)

    def get_fieldsets(self, request: HttpRequest, obj: Supplier | None = None) -> list:
        adapter = self._adapter_shown(request, obj)
        if self._view_only(request, obj):
            settings = ["settings_summary"]
            description = ""
        else:
            schema = adapter_schemas().get(adapter, SettingsSchema())
            settings = [field_name(name) for name in schema.names]
            description = self._adapter_links(request, obj, adapter)
        fieldsets = [
            (
                None,
                {
                    "fields": [
                        "name",
                        "slug",
                        "kind",
                        "invoice_currency",
                        "rate_limit_per_minute",
                        "is_active",
                    ]
                },
            ),
            (
                f"Adapter and its settings ({adapter})" if adapter else "Adapter and its settings",
                {"fields": ["adapter", *settings], "description": description},
            ),
        ]
        if obj is not None:
            fieldsets.append(
                ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]})
            )
        return fieldsets

    def _adapter_links(self, request: HttpRequest, obj: Supplier | None, shown: str) -> str:
        if obj is not None and not services.supplier_may_change_credentials(
            actor=Actor.staff(request.user)
        ):
            return ""
        others = [name for name in adapter_schemas() if name != shown]
        if not others:
            return ""
        return format_html(
            "Show the settings of another adapter: {}",
            format_html_join(", ", '<a href="?adapter={}">{}</a>', ((n, n) for n in others)),
        )

    def get_form(
        self, request: HttpRequest, obj: Supplier | None = None, change: bool = False, **kwargs
    ) -> type[forms.ModelForm]:
        adapter = self._adapter_shown(request, obj)
        schema = adapter_schemas().get(adapter, SettingsSchema())
        attrs: dict[str, Any] = {field_name(s.name): setting_field(s) for s in schema.settings}
        attrs.update(
            schema=schema,
            adapter_shown=adapter,
            may_change_credentials=services.supplier_may_change_credentials(
                actor=Actor.staff(request.user)
            ),
        )
        kwargs["form"] = type("SupplierSettingsForm", (self.form,), attrs)
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request: HttpRequest, obj: Supplier, form: Any, change: bool) -> None:
        services.supplier_save(
            supplier=obj, settings=form.settings_values(), actor=Actor.staff(request.user)
        )

    @admin.display(description="Settings")
    def settings_summary(self, supplier: Supplier) -> str:
        try:
            schema = schema_for(supplier.adapter)
            shown = schema.shown(stored_settings(supplier.adapter_config))
        except InvalidSupplierSettings:
            return "(not readable for this adapter)"
        if not shown:
            return "none"
        return format_html_join(
            mark_safe("<br>"),
            "{}: {}",
            ((schema.get(name).title, value) for name, value in shown.items()),
        )
