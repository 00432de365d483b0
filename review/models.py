"""Human oversight: queues, review tasks, object permissions and the decision trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from agents.autonomy import Reason
from agents.models import AgentRun, Document, Process


class Queue(models.Model):
    """A work queue of one process; reviewers are granted queues, never single items."""

    class Kind(models.TextChoices):
        REVIEW = "review", "Review"
        ESCALATION = "escalation", "Escalation (specialists)"

    process = models.ForeignKey(Process, on_delete=models.PROTECT, related_name="queues")
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.REVIEW)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["process__name", "kind", "name"]
        permissions = [("work_queue", "Can claim and decide the items of this queue")]
        constraints = [
            models.UniqueConstraint(fields=["process", "kind"], name="one_queue_per_process_and_kind"),
        ]

    def __str__(self) -> str:
        return self.name


class ReviewTask(models.Model):
    """One document waiting for (or decided by) a person, in one queue."""

    class State(models.TextChoices):
        OPEN = "open", "Open"
        CLAIMED = "claimed", "Claimed"
        DECIDED = "decided", "Decided"
        ESCALATED = "escalated", "Escalated"

    LIVE_STATES = (State.OPEN, State.CLAIMED)

    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="review_tasks")
    # Indexed by task_queue_state and task_claim_order, which start with it: no index of its own.
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="tasks", db_index=False)
    agent_run = models.ForeignKey(AgentRun, null=True, on_delete=models.PROTECT, related_name="review_tasks")
    reason = models.CharField(max_length=32, choices=Reason.CHOICES)
    policy = models.JSONField(default=dict)  # the autonomy policy in force when it was routed
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    priority = models.SmallIntegerField(default=0)  # higher first
    due_at = models.DateTimeField()
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When the reviewer first saw it; null while it is only prefetched (claimed ahead of time).
    started_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)  # the escalating reviewer's note, for the specialist
    escalated_from = models.ForeignKey(  # indexed where set (task_escalated_from): few tasks are
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="escalations", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["document"],
                condition=Q(state__in=["open", "claimed"]),
                name="one_live_task_per_document",
            ),
        ]
        indexes = [
            # The claim query: open tasks of a queue by priority, due time, age.
            models.Index(
                "queue",
                models.F("priority").desc(),
                "due_at",
                "id",
                condition=Q(state="open"),
                name="task_claim_order",
            ),
            models.Index(fields=["queue", "state"], name="task_queue_state"),
            # The oldest open item of a queue (queue page), without reading the queue.
            models.Index(fields=["queue", "id"], condition=Q(state="open"), name="task_open_oldest"),
            # Live claims by lease expiry (renewal, and the job that returns expired ones): the
            # tasks that are not claimed, nearly all of them, are not in it.
            models.Index(fields=["lease_expires_at"], condition=Q(state="claimed"), name="task_live_lease"),
            models.Index(
                fields=["escalated_from"],
                condition=Q(escalated_from__isnull=False),
                name="task_escalated_from",
            ),
        ]
        # Every claim and decision writes a new version of its task's row, into each of these
        # indexes; they are kept to what a query uses (measured with pgbench: the claim and the
        # harness's decision together, about a tenth faster than with three more indexes).

    def __str__(self) -> str:
        return f"task {self.pk} ({self.reason}) in {self.queue_id}"


class QueueUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Queue, on_delete=models.CASCADE)


class QueueGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Queue, on_delete=models.CASCADE)


class ProcessUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Process, on_delete=models.CASCADE)


class ProcessGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Process, on_delete=models.CASCADE)


class TrailEntryQuerySet(models.QuerySet):
    """Reads only: bulk updates and deletes are refused here, and by a trigger on PostgreSQL."""

    def update(self, **kwargs):
        raise TrailImmutable("trail entries cannot be changed")

    def delete(self):
        raise TrailImmutable("trail entries cannot be deleted")

    def bulk_update(self, objs, fields, batch_size=None):
        raise TrailImmutable("trail entries cannot be changed")


class TrailEntry(models.Model):
    """One append-only, hash-chained entry of the decision trail. Never updated, never deleted."""

    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField()
    actor_kind = models.CharField(max_length=16)  # "user" | "agent" | "system"
    actor_id = models.CharField(max_length=64, blank=True)  # user pk, or agent version pk
    actor_label = models.CharField(max_length=200)  # username, or "invoice-extraction v3 (rules)"
    action = models.CharField(max_length=64)
    process = models.ForeignKey(Process, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = TrailEntryQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["document", "seq"], name="trail_document_seq"),
            models.Index(fields=["actor_kind", "actor_id", "seq"], name="trail_actor_seq"),
            models.Index(fields=["process", "seq"], name="trail_process_seq"),
            models.Index(fields=["action", "seq"], name="trail_action_seq"),
            models.Index(fields=["created_at"], name="trail_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_label}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TrailImmutable("trail entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TrailImmutable("trail entries cannot be deleted")


class TrailImmutable(Exception):
    pass


class TrailHead(models.Model):
    """A single row holding the chain's head; locking it serialises appends so the chain never forks."""

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"trail head #{self.seq}"


class TrailCheckpoint(models.Model):
    """The chain's head copied out of the trail table at a point in time (periodic job, exports).

    Deleting the newest trail entries leaves the chain itself consistent; a checkpoint whose seq or
    hash no longer matches the table reveals it.
    """

    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    reason = models.CharField(max_length=32)  # "periodic" | "export" | "verification"
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["-seq"], name="checkpoint_seq_desc")]

    def __str__(self) -> str:
        return f"checkpoint #{self.seq}"


class Decision(models.Model):
    """A person's decision on a review task: who, what, when, how long, and the final fields."""

    class Action(models.TextChoices):
        APPROVE = "approve", "Approved"
        CORRECT = "correct", "Corrected"
        REJECT = "reject", "Rejected"
        ESCALATE = "escalate", "Escalated"

    task = models.OneToOneField(ReviewTask, on_delete=models.PROTECT, related_name="decision")
    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="decisions")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="decisions")
    action = models.CharField(max_length=16, choices=Action.choices)
    final_fields = models.JSONField(null=True, blank=True)
    changes = models.JSONField(default=dict)  # {"total": ["12.50", "12.05"]}
    note = models.TextField(blank=True)  # rejection reason or escalation note
    seconds_spent = models.FloatField()
    claimed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["reviewer", "created_at"], name="decision_reviewer_created"),
            models.Index(fields=["created_at"], name="decision_created"),
        ]

    def __str__(self) -> str:
        return f"{self.action} of task {self.task_id} by {self.reviewer_id}"


class LabelledExample(models.Model):
    """Agent output against human truth, field by field: the data that measures the agent."""

    class Outcome(models.TextChoices):
        APPROVED = "approved", "Approved as is"
        CORRECTED = "corrected", "Corrected"
        REJECTED = "rejected", "Rejected"
        ESCALATED = "escalated", "Escalated"

    process = models.ForeignKey(Process, on_delete=models.PROTECT, related_name="+")
    document = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="labelled_examples")
    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="example")
    agent_run = models.ForeignKey(AgentRun, null=True, on_delete=models.PROTECT, related_name="+")
    agent_version = models.ForeignKey(
        "agents.AgentVersion", null=True, on_delete=models.PROTECT, related_name="labelled_examples"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    agent_output = models.JSONField(default=dict)
    agent_confidences = models.JSONField(default=dict)
    overall_confidence = models.FloatField(null=True)
    human_fields = models.JSONField(null=True)  # None for rejections and escalations
    field_correct = models.JSONField(default=dict)  # {"total": true, "date": false}
    all_correct = models.BooleanField(null=True)
    route_reason = models.CharField(max_length=32, choices=Reason.CHOICES)
    audit_sample_rate = models.FloatField(null=True)  # for weighting audit samples (1 / rate)
    is_regression_case = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["process", "created_at"], name="example_process_created"),
            models.Index(fields=["agent_version", "created_at"], name="example_version_created"),
            models.Index(fields=["process", "route_reason", "created_at"], name="example_process_reason"),
        ]

    def __str__(self) -> str:
        return f"example {self.pk} ({self.outcome})"


class BackgroundJob(models.Model):
    """Work a Celery worker does for a person, with its state for the page that follows it: queued,
    running (claimed by a compare-and-set, with heartbeats so a dead worker's job can be taken
    over), done or failed (with the error)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        abstract = True

    @property
    def in_progress(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)


class VersionEvaluation(BackgroundJob):
    """A replay of the labelled set and the pinned regression cases through one agent version.

    Results are aggregates only: per-field counts, reliability bins, the projection at the target
    accuracy, and the ids of the pinned cases the version gets wrong.
    """

    version = models.ForeignKey("agents.AgentVersion", on_delete=models.PROTECT, related_name="evaluations")
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    agent_errors = models.PositiveIntegerField(default=0)
    field_accuracy = models.JSONField(default=dict)  # {"total": [correct, compared], ...}
    overall_accuracy = models.FloatField(null=True, blank=True)  # correct fields / compared fields
    document_accuracy = models.FloatField(null=True, blank=True)  # share with every field right
    calibration = models.JSONField(default=list)  # [{lower, upper, n, confidence, accuracy}]
    ece = models.FloatField(null=True, blank=True)
    target_accuracy = models.FloatField(null=True, blank=True)
    recommended_threshold = models.FloatField(null=True, blank=True)
    projected_automation = models.FloatField(null=True, blank=True)
    projection_message = models.TextField(blank=True)
    regression_total = models.PositiveIntegerField(default=0)
    regression_failed = models.JSONField(default=list)  # labelled example ids the version gets wrong
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["version", "-id"], name="evaluation_version_latest")]

    def __str__(self) -> str:
        return f"evaluation {self.pk} of version {self.version_id} ({self.state})"

    @property
    def progress_percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


class TrailVerification(BackgroundJob):
    """One walk of the whole decision trail, asked for by an auditor and run by a worker.

    The walk reads every entry (about 40,000 a second): at a million entries it outlasts any web
    request, so the page queues it and shows its progress and outcome. The outcome is the walk's:
    entries and checkpoints checked, the head it stopped at, and the first finding, if any.
    """

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    head_seq = models.BigIntegerField(null=True, blank=True)  # the walk stops at the head it read first
    head_hash = models.CharField(max_length=64, blank=True)
    entries_checked = models.BigIntegerField(default=0)
    checkpoints_checked = models.PositiveIntegerField(default=0)
    finding = models.JSONField(null=True, blank=True)  # {kind, seq, message, entry_id}; None: intact
    # The page lists the newest by id: the primary key's index serves it, no other is needed.

    def __str__(self) -> str:
        return f"trail verification {self.pk} ({self.state})"

    @property
    def intact(self) -> bool:
        return self.state == self.State.DONE and self.finding is None

    @property
    def progress_percent(self) -> int:
        return min(100, round(100 * self.entries_checked / self.head_seq)) if self.head_seq else 0
