from __future__ import annotations

from django import forms
from django.conf import settings

from agents.models import Process
from agents.providers.base import FieldSpec, FieldType
from agents.text_extraction import ACCEPTED_SUFFIXES
from agents.validation import FieldValueError, parse_value


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        return [
            super(MultipleFileField, self).clean(item, initial) for item in files if item
        ] or self._empty()

    def _empty(self):
        raise forms.ValidationError("Choose at least one file.")


class UploadForm(forms.Form):
    process = forms.ModelChoiceField(queryset=Process.objects.none(), empty_label=None)
    files = MultipleFileField(
        help_text=f"Text or PDF ({', '.join(sorted(ACCEPTED_SUFFIXES))}), "
        f"up to {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MB each."
    )

    def __init__(self, *args, processes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["process"].queryset = processes
        self.fields["files"].widget.attrs["accept"] = ",".join(sorted(ACCEPTED_SUFFIXES))


# --- Reviewer decisions ---------------------------------------------------------------------------

FIELD_PREFIX = "field-"


class CorrectionForm(forms.Form):
    """Typed inputs for the process's schema, prefilled with the agent's values.

    Inputs are named "field-<name>"; validation is the schema's own (agents.validation), and a
    posted field that the schema does not have is an error, never silently dropped.
    """

    def __init__(self, *args, specs: tuple[FieldSpec, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.specs = specs
        for spec in specs:
            self.fields[FIELD_PREFIX + spec.name] = _typed_field(spec)

    def unknown_names(self) -> list[str]:
        known = {spec.name for spec in self.specs}
        return [
            key[len(FIELD_PREFIX) :]
            for key in self.data
            if key.startswith(FIELD_PREFIX) and key[len(FIELD_PREFIX) :] not in known
        ]

    def clean(self):
        cleaned = super().clean()
        for name in self.unknown_names():
            self.add_error(None, f"{name} is not a field of this process")
        return cleaned

    def values(self) -> dict[str, str]:
        """The raw posted values by field name (the service parses and canonicalises them)."""
        return {
            key[len(FIELD_PREFIX) :]: value
            for key, value in self.data.items()
            if key.startswith(FIELD_PREFIX)
        }

    def add_field_errors(self, errors: dict[str, list[str]]) -> None:
        for name, messages in errors.items():
            key = FIELD_PREFIX + name
            for message in messages:
                if key in self.fields:
                    self.add_error(key, message)
                else:
                    self.add_error(None, f"{name} {message}")

    def bound_rows(self):
        return {spec.name: self[FIELD_PREFIX + spec.name] for spec in self.specs}


def _typed_field(spec: FieldSpec) -> forms.Field:
    label = spec.label or spec.name
    attrs = {"data-field": spec.name, "autocomplete": "off"}

    def check(value):
        try:
            parse_value(spec, value)
        except FieldValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    common = {"label": label, "required": False, "validators": [check]}
    if spec.type == FieldType.CHOICE:
        choices = [("", "—"), *[(c, c) for c in spec.choices]]
        return forms.ChoiceField(choices=choices, widget=forms.Select(attrs=attrs), **common)
    if spec.type == FieldType.DATE:
        return forms.CharField(widget=forms.DateInput(attrs=attrs | {"type": "date"}), **common)
    if spec.type == FieldType.DECIMAL:
        return forms.CharField(widget=forms.TextInput(attrs=attrs | {"inputmode": "decimal"}), **common)
    if spec.type == FieldType.CURRENCY:
        attrs |= {"maxlength": "3", "pattern": "[A-Z]{3}", "title": "three capital letters, such as EUR"}
        return forms.CharField(widget=forms.TextInput(attrs=attrs), **common)
    return forms.CharField(widget=forms.TextInput(attrs=attrs), **common)


class RejectForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the item is rejected."},
    )


class EscalateForm(forms.Form):
    note = forms.CharField(
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write a note for the specialist."},
    )
