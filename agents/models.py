"""The automation: processes and their autonomy, documents, agent versions and their runs."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings as django_settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from agents.autonomy import Reason
from agents.providers.base import FieldSpec
from agents.schema import fields_from_json

UNIT_INTERVAL = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))]


class Process(models.Model):
    """A kind of work the agents do (extract invoice fields, classify expenses) and its autonomy."""

    class Mode(models.TextChoices):
        MANUAL = "manual", "Manual: every item to review"
        SHADOW = "shadow", "Shadow: agent runs, every item to review, would-be decisions measured"
        AUTONOMOUS = "autonomous", "Autonomous: threshold applies"

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # [{"name": "total", "type": "decimal", "required": true, "choices": [], "label": "", "rules": {}}]
    fields = models.JSONField(default=list)
    autonomy_mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.MANUAL)
    confidence_threshold = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.900"), validators=UNIT_INTERVAL
    )
    field_thresholds = models.JSONField(default=dict, blank=True)  # {"total": "0.95"}
    audit_sample_rate = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.050"), validators=UNIT_INTERVAL
    )
    target_accuracy = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.950"), validators=UNIT_INTERVAL
    )
    sla_hours = models.PositiveIntegerField(default=24)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("administer_process", "Can set the autonomy and agent versions of this process"),
            ("audit_process", "Can read and export the decision trail of this process"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def field_specs(self) -> tuple[FieldSpec, ...]:
        return fields_from_json(self.fields)


class Document(models.Model):
    """One delivered document, stored once per process (the checksum makes re-delivery a no-op)."""

    class Source(models.TextChoices):
        UPLOAD = "upload", "Upload"
        API = "api", "API"
        FOLDER = "folder", "Folder import"
        DEMO = "demo", "Demo generator"

    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSING = "processing", "Processing"
        AUTO_ACCEPTED = "auto_accepted", "Accepted automatically"
        IN_REVIEW = "in_review", "In review"
        ACCEPTED = "accepted", "Accepted by a reviewer"
        REJECTED = "rejected", "Rejected"

    OPEN_STATES = (State.RECEIVED, State.PROCESSING)

    process = models.ForeignKey(Process, on_delete=models.PROTECT, related_name="documents")
    source = models.CharField(max_length=16, choices=Source.choices)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    file = models.FileField(upload_to="documents/%Y/%m/", max_length=300)
    checksum = models.CharField(max_length=64)  # sha256 of the original bytes
    text = models.TextField(blank=True)
    text_encoding = models.CharField(max_length=32, blank=True)
    # Why no text could be read ("corrupt_pdf", "no_text_layer"); such documents go to review.
    text_problem = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.RECEIVED)
    final_fields = models.JSONField(null=True, blank=True)
    received_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processing_started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["process", "checksum"], name="document_once_per_process"),
        ]
        indexes = [
            models.Index(fields=["process", "state"], name="document_process_state"),
            models.Index(fields=["state", "updated_at"], name="document_state_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.process_id})"


class AgentVersion(models.Model):
    """A numbered, immutable agent specification for a process; one per process is active."""

    class Provider(models.TextChoices):
        RULES = "rules", "Offline rules"
        OPENAI = "openai", "OpenAI-compatible LLM"

    process = models.ForeignKey(Process, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    provider = models.CharField(max_length=16, choices=Provider.choices)
    model = models.CharField(max_length=200, blank=True)
    instructions = models.TextField(blank=True)
    schema_snapshot = models.JSONField()  # the process's fields when the version was created
    settings = models.JSONField(default=dict, blank=True)  # provider settings, never API keys
    is_active = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["process", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["process", "number"], name="agent_version_number_unique"),
            models.UniqueConstraint(
                fields=["process"], condition=Q(is_active=True), name="one_active_version_per_process"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.process.slug} v{self.number} ({self.provider}{' ' + self.model if self.model else ''})"


class AgentRun(models.Model):
    """The execution log of one agent run on one document, and the autonomy verdict on it."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        AUTO_ACCEPTED = "auto_accepted", "Accepted automatically"
        REVIEW = "review", "Sent to review"

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="runs")
    agent_version = models.ForeignKey(
        AgentVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )
    output = models.JSONField(default=dict)  # {"total": "12.50", ...}
    confidences = models.JSONField(default=dict)  # {"total": 0.93, ...}
    confidence_methods = models.JSONField(default=dict)  # {"total": "rules", ...}
    overall_confidence = models.FloatField(null=True, blank=True)
    validation_errors = models.JSONField(default=dict)  # {"date": ["not a date"]}
    reasoning = models.TextField(blank=True)
    model_used = models.CharField(max_length=200, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    latency_ms = models.PositiveIntegerField(default=0)
    attempts = models.JSONField(default=list)  # failed calls: [{"endpoint", "model", "error", ...}]
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    route_reason = models.CharField(max_length=32, blank=True, choices=Reason.CHOICES)
    would_auto_accept = models.BooleanField(null=True)  # what autonomous mode would have done
    policy = models.JSONField(default=dict)  # mode, thresholds and sample rate in force at the verdict
    audit_draw = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["document", "-id"], name="run_document_latest"),
            models.Index(fields=["agent_version", "created_at"], name="run_version_created"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of document {self.document_id}"

    @property
    def failed(self) -> bool:
        return bool(self.error_code)
