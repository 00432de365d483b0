from __future__ import annotations

from django import forms
from django.conf import settings

from agents.models import Process
from agents.providers.base import FieldSpec, FieldType
from agents.text_extraction import ACCEPTED_SUFFIXES
from agents.validation import FieldValueError, parse_value
from review.agent_versions import InvalidSettings, openai_settings


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


# --- Process admins: autonomy -------------------------------------------------------------------

THRESHOLD_PREFIX = "threshold-"


def _unit_interval(label: str, *, required: bool = True) -> forms.DecimalField:
    message = f"{label} must be a number between 0 and 1."
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=0,
        max_value=1,
        decimal_places=3,
        error_messages={
            "invalid": message,
            "min_value": message,
            "max_value": message,
            "max_decimal_places": f"{label} takes at most 3 decimal places.",
            "required": f"{label} is required.",
        },
        widget=forms.NumberInput(attrs={"step": "0.001", "min": "0", "max": "1"}),
    )


class AutonomyForm(forms.Form):
    """A process's autonomy settings. Per-field thresholds are "threshold-<field>" inputs, one per
    schema field, left empty to use the document threshold; a posted field the schema does not
    have is an error."""

    autonomy_mode = forms.ChoiceField(label="Mode", choices=Process.Mode.choices)
    confidence_threshold = _unit_interval("Document threshold")
    audit_sample_rate = _unit_interval("Audit sample rate")
    target_accuracy = _unit_interval("Target accuracy")

    def __init__(self, *args, process: Process, **kwargs):
        if not args and "data" not in kwargs:
            kwargs.setdefault("initial", self.initial_for(process))
        super().__init__(*args, **kwargs)
        self.specs = process.field_specs
        for spec in self.specs:
            label = f"{spec.label or spec.name} threshold"
            self.fields[THRESHOLD_PREFIX + spec.name] = _unit_interval(label, required=False)

    @staticmethod
    def initial_for(process: Process) -> dict:
        initial = {
            "autonomy_mode": process.autonomy_mode,
            "confidence_threshold": process.confidence_threshold,
            "audit_sample_rate": process.audit_sample_rate,
            "target_accuracy": process.target_accuracy,
        }
        for name, value in (process.field_thresholds or {}).items():
            initial[THRESHOLD_PREFIX + name] = value
        return initial

    def clean(self):
        cleaned = super().clean()
        known = {spec.name for spec in self.specs}
        for key in self.data:
            name = key[len(THRESHOLD_PREFIX) :] if key.startswith(THRESHOLD_PREFIX) else None
            if name is not None and name not in known:
                self.add_error(None, f"{name[:64]!r} is not a field of this process.")
        return cleaned

    def changes(self) -> dict:
        """The cleaned values as change_autonomy takes them (field thresholds as strings)."""
        data = self.cleaned_data
        field_thresholds = {
            spec.name: str(data[THRESHOLD_PREFIX + spec.name].normalize())
            for spec in self.specs
            if data.get(THRESHOLD_PREFIX + spec.name) is not None
        }
        return {
            "autonomy_mode": data["autonomy_mode"],
            "confidence_threshold": data["confidence_threshold"],
            "audit_sample_rate": data["audit_sample_rate"],
            "target_accuracy": data["target_accuracy"],
            "field_thresholds": field_thresholds,
        }

    def setting_rows(self):
        names = ("autonomy_mode", "confidence_threshold", "audit_sample_rate", "target_accuracy")
        return [self[name] for name in names]

    def threshold_rows(self):
        return [self[THRESHOLD_PREFIX + spec.name] for spec in self.specs]


class WindowForm(forms.Form):
    """The evaluation window (days) and, optionally, one agent version by number."""

    days = forms.TypedChoiceField(
        choices=[(7, "7 days"), (30, "30 days"), (90, "90 days")],
        coerce=int,
        required=False,
        empty_value=30,
        error_messages={"invalid_choice": "The window must be 7, 30 or 90 days."},
    )
    version = forms.IntegerField(
        required=False, min_value=1, error_messages={"invalid": "The version must be a version number."}
    )


# --- Agent versions -------------------------------------------------------------------------------


class AgentVersionForm(forms.Form):
    """A new agent version. For an LLM: endpoints one per line ("base URL  model", or just a model
    for OpenAI itself), the NAME of the variable holding the key, timeouts and the confidence method.
    The provider settings are checked by review.agent_versions.openai_settings."""

    provider = forms.ChoiceField(choices=[("rules", "Offline rules"), ("openai", "OpenAI-compatible LLM")])
    ruleset = forms.ChoiceField(
        choices=[("extraction", "extraction"), ("classification", "classification")], required=False
    )
    endpoints = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "http://llm-a:8000/v1 gpt-4o-mini"}),
        required=False,
        help_text="One endpoint per line, in failover order: base URL and model (a model alone: OpenAI).",
    )
    api_key_env = forms.CharField(
        initial="OPENAI_API_KEY", required=False, max_length=100,
        help_text="The NAME of the environment variable holding the key on the workers, never the key.",
    )  # fmt: skip
    instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    timeout_s = forms.FloatField(
        label="Timeout (s)", initial=20, min_value=0.1, max_value=600, required=False
    )
    max_retries = forms.IntegerField(label="Retries", initial=2, min_value=0, max_value=10, required=False)
    confidence = forms.ChoiceField(
        choices=[("auto", "auto"), ("logprobs", "logprobs"), ("samples", "samples")], initial="auto"
    )
    samples = forms.IntegerField(initial=3, min_value=2, max_value=20, required=False)
    notes = forms.CharField(required=False, max_length=2000, help_text="Why this version exists.")

    def __init__(self, *args, process: Process, **kwargs):
        super().__init__(*args, **kwargs)
        self.process = process

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        if cleaned["provider"] == "rules":
            cleaned["model"] = "rules-v1"
            cleaned["settings"] = {"ruleset": cleaned.get("ruleset") or "extraction"}
            return cleaned
        if not cleaned["instructions"].strip():
            self.add_error("instructions", "An LLM version needs instructions.")
            return cleaned
        endpoints = [line.split() for line in cleaned["endpoints"].splitlines() if line.strip()]
        if any(len(parts) > 2 for parts in endpoints):
            self.add_error("endpoints", "Each line holds a base URL and a model, separated by a space.")
            return cleaned
        pairs = [("", parts[0]) if len(parts) == 1 else (parts[0], parts[1]) for parts in endpoints]
        try:
            cleaned["settings"] = openai_settings(
                process=self.process, endpoints=pairs, api_key_env=cleaned["api_key_env"].strip(),
                instructions=cleaned["instructions"], timeout_s=cleaned["timeout_s"] or 20.0,
                max_retries=2 if cleaned["max_retries"] is None else cleaned["max_retries"],
                confidence=cleaned["confidence"], samples=cleaned["samples"] or 3,
            )  # fmt: skip
        except InvalidSettings as exc:
            self.add_error(None, str(exc))
            return cleaned
        cleaned["model"] = pairs[0][1]
        return cleaned

    @classmethod
    def initial_from(cls, version) -> dict:
        """Prefill from an existing version ("new version from this one"; versions are never edited)."""
        settings = version.settings or {}
        lines = [
            f"{e.get('base_url', '')} {e.get('model', '')}".strip() for e in settings.get("endpoints", [])
        ]
        key_envs = [e.get("api_key_env") for e in settings.get("endpoints", []) if e.get("api_key_env")]
        return {
            "provider": version.provider,
            "ruleset": settings.get("ruleset", "extraction"),
            "endpoints": "\n".join(lines),
            "api_key_env": key_envs[0] if key_envs else "OPENAI_API_KEY",
            "instructions": version.instructions,
            "timeout_s": settings.get("timeout_s", 20),
            "max_retries": settings.get("max_retries", 2),
            "confidence": settings.get("confidence", "auto"),
            "samples": settings.get("samples", 3),
            "notes": f"From version {version.number}.",
        }


class ActivationForm(forms.Form):
    override_reason = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when the version is worse than the active on the labelled set, or unevaluated.",
    )  # fmt: skip
