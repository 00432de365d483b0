"""A real Celery worker over Redis, against the test database (committed data: transactional_db)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.db import connection

from backoffice.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
WORKER_LOG = ROOT / ".pytest_cache" / "celery-worker.log"  # kept after the run for diagnosis


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.fail("REDIS_URL is not set: run `make test` (it starts Redis or says how).")
    try:
        redis.Redis.from_url(url).ping()
    except redis.ConnectionError as exc:
        pytest.fail(
            f"Redis is not reachable at {url} ({exc}). Start it with: redis-server --daemonize yes "
            '--bind 127.0.0.1 --port 6379 --save "" --appendonly no'
        )
    return url


@pytest.fixture
def celery_worker(transactional_db, redis_url):
    """Start `celery worker` in a subprocess; tasks sent from the test go through Redis to it."""
    redis.Redis.from_url(redis_url).flushdb()  # no stale tasks from an earlier run
    database = connection.settings_dict
    env = os.environ | {
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DJANGO_SETTINGS_MODULE": "backoffice.settings",
    }
    WORKER_LOG.parent.mkdir(parents=True, exist_ok=True)  # a fresh clone has no .pytest_cache yet
    log = WORKER_LOG.open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "backoffice",
            "worker",
            "-Q",
            "agents,default",
            "--pool",
            "threads",
            "-c",
            "4",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield worker
    finally:
        celery_app.conf.task_always_eager = previous
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()


def wait_for(predicate, *, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    log = WORKER_LOG.read_text()[-3000:]
    pytest.fail(f"timed out waiting for {what}; worker log tail:\n{log}")
