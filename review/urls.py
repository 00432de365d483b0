from django.urls import path

from review.views import auditor, documents, evaluation, intake, process_admin, reviewer, versions

app_name = "review"

urlpatterns = [
    # The reviewers' requests first: they are most of the traffic, and each URL is matched in order.
    path("queues/", reviewer.queue_list, name="queues"),
    path("queues/<slug:slug>/next/", reviewer.queue_next, name="queue-next"),
    path("queues/<slug:slug>/prefetch/", reviewer.queue_prefetch, name="queue-prefetch"),
    path("tasks/<int:pk>/", reviewer.task_detail, name="task"),
    path("tasks/<int:pk>/heartbeat/", reviewer.heartbeat, name="task-heartbeat"),
    path("tasks/<int:pk>/release/", reviewer.release, name="task-release"),
    path("tasks/<int:pk>/approve/", reviewer.approve, name="task-approve"),
    path("tasks/<int:pk>/correct/", reviewer.correct, name="task-correct"),
    path("tasks/<int:pk>/reject/", reviewer.reject, name="task-reject"),
    path("tasks/<int:pk>/escalate/", reviewer.escalate, name="task-escalate"),
    path("", documents.home, name="home"),
    path("documents/", documents.document_list, name="documents"),
    path("documents/<int:pk>/", documents.document_detail, name="document"),
    path("documents/<int:pk>/file/", documents.document_file, name="document-file"),
    path("upload/", intake.upload, name="upload"),
    path("trail/", auditor.trail_entries, name="trail"),
    path("trail/verify/", auditor.verify, name="trail-verify"),
    path("trail/export.<str:fmt>", auditor.export, name="trail-export"),
    path("trail/manifest.<str:fmt>.json", auditor.export_manifest, name="trail-manifest"),
    path("trail/documents/<int:pk>/", auditor.timeline, name="timeline"),
    path("autonomy/", process_admin.process_list, name="autonomy"),
    path("autonomy/<slug:slug>/versions/", versions.version_list, name="versions"),
    path("autonomy/<slug:slug>/versions/new/", versions.version_create, name="version-create"),
    path("autonomy/<slug:slug>/versions/compare/", versions.version_compare, name="version-compare"),
    path("autonomy/<slug:slug>/versions/rollback/", versions.version_rollback, name="version-rollback"),
    path(
        "autonomy/<slug:slug>/versions/<int:number>/evaluate/",
        versions.version_evaluate,
        name="version-evaluate",
    ),
    path(
        "autonomy/<slug:slug>/versions/<int:number>/evaluation/",
        versions.version_progress,
        name="version-progress",
    ),
    path(
        "autonomy/<slug:slug>/versions/<int:number>/activate/",
        versions.version_activate,
        name="version-activate",
    ),
    path("documents/<int:pk>/regression-case/", versions.regression_case, name="regression-case"),
    path("autonomy/<slug:slug>/", process_admin.process_page, name="autonomy-process"),
    path("autonomy/<slug:slug>/apply-recommended/", process_admin.apply_recommended, name="autonomy-apply"),
    path("autonomy/<slug:slug>/simulator.csv", process_admin.simulator_csv, name="autonomy-simulator-csv"),
    path("autonomy/<slug:slug>/evaluation/", evaluation.evaluation_page, name="evaluation"),
    path("autonomy/<slug:slug>/evaluation/<slug:table>.csv", evaluation.table_csv, name="evaluation-csv"),
]
