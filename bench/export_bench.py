"""Benchmark: export the decision trail over HTTP, 10,000 and 1,000,000 entries in one run.

    .venv/bin/python bench/export_bench.py [--rows 1000000] [--small 10000] [--keep]

Creates its own PostgreSQL database (backoffice_bench_trail, dropped and re-created; BENCH_PG_URL
names the server, default postgres://postgres@127.0.0.1:5432), migrates it, fills it with trail
entries in one INSERT ... SELECT over generate_series (content hashes are sha256 of a counter, not
canonical entry hashes: this measures the export, not the chain), then serves the app with gunicorn
on 127.0.0.1 (one gthread worker, worker timeout 5 s) and downloads the CSV export of each process.

Prints rows/s through HTTP and the serving worker's peak resident memory (VmHWM from /proc) after
each export. The 1,000,000-row export runs longer than the 5 s worker timeout: a gthread
worker keeps notifying the master while a thread streams, so the export completes (a sync worker
would be killed; see the README). The client checks each manifest: rows and sha256 of the body.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "backoffice_bench_trail"
SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
WORKER_TIMEOUT = 5

SETUP = """
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from agents.models import Process
from review import permissions
small = Process.objects.create(slug="bench-small", name="Bench small")
large = Process.objects.create(slug="bench-large", name="Bench large")
user = User.objects.create_user("bench-auditor", password="x")
for process in (small, large):
    permissions.grant_process("audit_process", process, user)
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
print(small.pk, large.pk, session.session_key)
"""

FILL = """
INSERT INTO review_trailentry (seq, created_at, actor_kind, actor_id, actor_label, action,
                               process_id, document_id, data, prev_hash, hash)
SELECT g,
       now() - interval '1 second' * (%(total)s - g),
       CASE WHEN g %% 3 = 0 THEN 'user' ELSE 'agent' END,
       (g %% 50)::text,
       CASE WHEN g %% 3 = 0 THEN 'reviewer' || (g %% 50) ELSE 'invoice-extraction v3 (rules)' END,
       CASE WHEN g %% 3 = 0 THEN 'decision.approved' ELSE 'agent.routed_to_review' END,
       CASE WHEN g <= %(small)s THEN %(small_id)s ELSE %(large_id)s END,
       NULL,
       jsonb_build_object(
           'run', g, 'decision', 'review', 'reason', 'low_confidence', 'model', 'rules-v1',
           'overall_confidence', round((g %% 1000) / 1000.0, 3),
           'output', jsonb_build_object('total', (g %% 1000) || '.00', 'invoice_number', 'INV-' || g,
                                        'date', '2024-03-14', 'supplier', 'ACME Industrial Supplies Ltd'),
           'policy', jsonb_build_object('mode', 'autonomous', 'threshold', '0.900',
                                        'audit_sample_rate', '0.050')
       ),
       CASE WHEN g = 1 THEN repeat('0', 64) ELSE encode(sha256(('bench-' || (g - 1))::bytea), 'hex') END,
       encode(sha256(('bench-' || g)::bytea), 'hex')
FROM generate_series(1, %(total)s) AS g
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="entries in the large process")
    parser.add_argument("--small", type=int, default=10_000, help="entries in the small process")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    database_url = f"{SERVER}/{DB_NAME}"
    env = os.environ | {
        "DATABASE_URL": database_url, "DEBUG": "0", "SECRET_KEY": "bench-" + "x" * 50,
        "SECURE_SSL_REDIRECT": "0", "ALLOWED_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING",
    }  # fmt: skip
    env.pop("REDIS_URL", None)

    recreate_database()
    manage(env, "migrate", "--noinput", "-v0")
    small_id, large_id, session_key = manage(env, "shell", "-v0", "-c", SETUP).split()[-3:]
    fill(database_url, args.small, args.rows, int(small_id), int(large_id))

    port = free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "backoffice.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1",
         "-k", "gthread", "--threads", "4", "--timeout", str(WORKER_TIMEOUT), "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        wait_for(port)
        worker = worker_pid(server.pid)
        # Warm up (imports, the database connection) with an export that matches nothing.
        request(port, session_key, "/trail/export.csv?process=bench-small&date_to=2000-01-01")
        print(f"worker {worker} after warm-up: VmRSS {vm(worker, 'VmRSS'):.1f} MB")
        for slug, expected in (("bench-small", args.small), ("bench-large", args.rows)):
            rows, seconds, size = export(port, session_key, slug, expected)
            print(
                f"{slug}: {rows:>9,} rows {size / 1e6:4.0f} MB {seconds:5.1f} s "
                f"{rows / seconds:>6,.0f} rows/s | "
                f"worker VmHWM {vm(worker, 'VmHWM'):.1f} MB, VmRSS {vm(worker, 'VmRSS'):.1f} MB"
            )
        print(f"worker timeout was {WORKER_TIMEOUT} s; the worker pid is still {worker_pid(server.pid)}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.keep:
            with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def recreate_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def manage(env: dict, *command: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def fill(database_url: str, small: int, rows: int, small_id: int, large_id: int) -> None:
    started = time.perf_counter()
    total = small + rows
    with psycopg.connect(database_url) as conn:
        conn.execute(FILL, {"total": total, "small": small, "small_id": small_id, "large_id": large_id})
        conn.execute(
            "INSERT INTO review_trailhead (id, seq, hash) VALUES (1, %s, encode(sha256(%s::bytea), 'hex'))",
            [total, f"bench-{total}"],
        )
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE review_trailentry")
    print(f"filled {total:,} trail entries in {time.perf_counter() - started:.1f} s")


def export(port: int, session_key: str, slug: str, expected: int) -> tuple[int, float, int]:
    started = time.perf_counter()
    response = open_request(port, session_key, f"/trail/export.csv?process={slug}")
    digest, size, tail = hashlib.sha256(), 0, b""
    while chunk := response.read(1 << 20):
        size += len(chunk)
        # Hash everything but the last line (the manifest), which is only known at the end.
        data = tail + chunk
        cut = data.rfind(b"\n", 0, len(data) - 1) + 1
        digest.update(data[:cut])
        tail = data[cut:]
    seconds = time.perf_counter() - started
    manifest_row = tail.decode().rstrip("\n")
    manifest = json.loads(manifest_row.split(",", 1)[1].strip('"').replace('""', '"'))
    if manifest["rows"] != expected or manifest["sha256"] != digest.hexdigest():
        raise SystemExit(f"{slug}: export incomplete or altered: {manifest}")
    return manifest["rows"], seconds, size


def open_request(port: int, session_key: str, path: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("GET", path, headers={"Cookie": f"sessionid={session_key}", "Host": "127.0.0.1"})
    response = connection.getresponse()
    if response.status != 200:
        raise SystemExit(f"GET {path}: {response.status} {response.read()[:300]!r}")
    return response


def request(port: int, session_key: str, path: str) -> None:
    open_request(port, session_key, path).read()


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(children[0])


def vm(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


if __name__ == "__main__":
    main()
