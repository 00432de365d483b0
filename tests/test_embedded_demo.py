"""`make demo` runs on SQLite with eager tasks: the main screens of every role must work there too.

The rest of the suite runs on PostgreSQL; this test drives the embedded default in a subprocess
(its own SQLite file, its own settings from the environment) through each role's first steps.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import django
django.setup()
from django.test import Client
from review.models import Decision, ReviewTask

def client_for(username, password):
    client = Client()
    assert client.login(username=username, password=password), username
    return client

alice = client_for("alice", "alice-reviews")
assert alice.get("/").status_code == 200
assert alice.get("/queues/").status_code == 200
response = alice.post("/queues/invoice-extraction-review/next/")
assert response.status_code == 302 and "/tasks/" in response["Location"], response.status_code
task = ReviewTask.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))
assert alice.get(response["Location"]).status_code == 200
assert alice.get("/tasks/100000000000000000000/").status_code == 404  # past what SQLite can store
approved = alice.post(f"/tasks/{task.pk}/approve/", {"lease": str(task.lease_token)}, HTTP_HX_REQUEST="true")
assert approved.status_code == 200, approved.status_code
assert Decision.objects.filter(task=task, action="approve").exists()

paula = client_for("paula", "paula-admin")
for path in ("/autonomy/", "/autonomy/invoice-extraction/", "/autonomy/invoice-extraction/evaluation/",
             "/autonomy/invoice-extraction/versions/"):
    assert paula.get(path).status_code == 200, path
changed = paula.post("/autonomy/invoice-extraction/", {
    "autonomy_mode": "shadow", "confidence_threshold": "0.9", "audit_sample_rate": "0.05",
    "target_accuracy": "0.95"})
assert changed.status_code in (200, 302), changed.status_code
assert paula.get("/autonomy/").status_code == 200  # with a process in shadow mode

audrey = client_for("audrey", "audrey-audits")
assert audrey.post("/trail/verify/").status_code == 302  # eager tasks: walked before the answer
assert b"The trail is intact" in audrey.get("/trail/verify/").content
for path in ("/trail/", "/trail/verify/", "/trail/export.csv", "/trail/export.jsonl"):
    response = audrey.get(path)
    assert response.status_code == 200, path
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
print("embedded demo ok")
"""


def test_the_embedded_demo_works_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DEBUG": "1",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "DJANGO_SETTINGS_MODULE": "backoffice.settings",
    }

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    for step in (("migrate", "--noinput"), ("seed_demo", "--count", "15")):
        result = run(sys.executable, "manage.py", *step)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    result = run(sys.executable, "-c", SCRIPT)
    assert result.returncode == 0 and "embedded demo ok" in result.stdout, result.stderr[-6000:]
