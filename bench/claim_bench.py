"""Claim benchmark: the claim endpoint and the submit-and-next round trip through HTTP, against a
million open tasks, with 1, 4 and 20 concurrent reviewers; and, in the same run, a baseline page
that runs one indexed query behind the same middleware.

    .venv/bin/python bench/claim_bench.py [--tasks 1000000] [--requests 400]

It creates (and by default keeps, for a quicker re-run with --reuse) its own PostgreSQL database
`backoffice_bench_claims`, fills it with generate_series, starts gunicorn on 127.0.0.1 with
DEBUG off (bench/claim_bench_settings.py, bench/claim_bench_urls.py), logs in 20 reviewers who
hold the queue, and prints requests/s and p50/p95 latency per phase. Each reviewer is a thread
with its own keep-alive connection; the threads are spread over `--client-processes` (4) forked
processes, as twenty browsers do not share one interpreter lock. Not a test: it asserts
nothing about time.

Phases, for each concurrency level:
- baseline: GET a page that looks up one task by primary key (session + user + one query);
- claim: POST "next item" (one call of review_next_item(): the queue grant, the reviewer's lock,
  the claim with SELECT ... FOR UPDATE SKIP LOCKED and its lease) answered by a redirect; between
  two claims the bench marks the claimed task done in SQL, untimed but inside the phase's wall
  time, so every claim takes a fresh task;
- submit-and-next: POST approve through htmx, answered by the next item's panel (the decision,
  its labelled example and trail entry, the document's state, the next claim, the rendering).
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "backoffice_bench_claims"
PASSWORD = "bench-reviewer-password"
QUEUE = "invoice-extraction-review"
OUTPUT = {
    "vendor": "ACME Industrial Supplies Ltd",
    "invoice_number": "INV-2024-0042",
    "date": "2024-03-14",
    "total": "192.00",
    "currency": "GBP",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=400, help="requests per phase and concurrency level")
    parser.add_argument("--levels", default="1,4,20")
    parser.add_argument(
        "--phases",
        default="baseline,claim,submit-and-next",
        help="which phases to run (for profiling one of them)",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=4,
        help="processes the reviewers' clients are spread over (browsers do not share an interpreter lock)",
    )
    parser.add_argument("--port", type=int, default=8765)
    # As the README's production command sizes it for two cores: fewer threads than reviewers, so
    # that requests wait their turn in gunicorn instead of all sharing the cores and the
    # interpreter locks at once (measured: 4 workers x 6 threads had a longer tail at 20).
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--reuse", action="store_true", help="keep the database if it is already filled")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    db_url = f"{args.server.rstrip('/')}/{DB_NAME}"

    fresh = prepare_database(args.server, reuse=args.reuse)
    os.environ.update({"DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "backoffice.settings"})
    os.environ.pop("REDIS_URL", None)
    run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"])  # a reused database may lag behind
    setup_django()
    usernames = fill(args.tasks, max(levels)) if fresh else existing_reviewers(max(levels))
    print(f"open tasks in {QUEUE}: {open_tasks():,}", flush=True)

    import psycopg

    server = start_gunicorn(db_url, args)
    try:
        clients = [Client(args.port, db_url) for _ in usernames]
        for client, username in zip(clients, usernames, strict=True):
            client.log_in(username)
            client.close()  # each phase's client processes open their own connections
        max_pk = max_task_pk()
        phase = functools.partial(run_phase, processes=args.client_processes, server_pid=server.pid)
        phase("warm-up", clients, 8 * len(clients), lambda c, n: baseline(c, n, max_pk))
        print(
            f"\n{'':<58}CPU ms per request\n{'phase':<18}{'reviewers':>10}{'requests':>10}{'req/s':>10}"
            f"{'p50 ms':>10}{'p95 ms':>10}{'app':>8}{'db':>8}{'clients':>8}"
        )
        for level in levels:
            # Untimed: vacuum the task table as autovacuum would (migration 0009 tunes it for this
            # table; CI machines may run PostgreSQL with autovacuum off). Dead entries left at the
            # head of the claim index by earlier claims otherwise slow every claim.
            with psycopg.connect(db_url, autocommit=True) as admin:
                admin.execute("VACUUM review_reviewtask")
            group = clients[:level]
            total = max(args.requests, level * 5)
            actions = {
                "baseline": lambda c, n: baseline(c, n, max_pk),
                "claim": claim,
                "submit-and-next": submit_and_next,
            }
            rows = {}
            for name in args.phases.split(","):
                rows[name] = phase(name, group, total, actions[name])
                print(rows[name], flush=True)
            if "claim" in rows and "baseline" in rows:
                ratio = rows["claim"].rate / rows["baseline"].rate
                print(f"{'':<18}claim rate / baseline rate = {ratio:.2f}", flush=True)
        print(f"\nopen tasks left: {open_tasks():,}")
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- database -----------------------------------------------------------------------------------


def prepare_database(server: str, *, reuse: bool) -> bool:
    """Create the bench database; returns False when --reuse finds it already there."""
    import psycopg

    with psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if exists and reuse:
            return False
        if exists:
            conn.execute(f'DROP DATABASE "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    return True


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def fill(n: int, reviewers: int) -> list[str]:
    """Processes, reviewers holding the invoice queue, and `n` open tasks (one document each)."""
    from django.contrib.auth.models import User
    from django.db import connection

    from agents.models import AgentRun, Process
    from review import permissions
    from review.models import Queue
    from review.provisioning import ensure_standard_processes

    started = time.perf_counter()
    ensure_standard_processes()
    process = Process.objects.get(slug="invoice-extraction")
    queue = Queue.objects.get(slug=QUEUE)
    usernames = []
    for i in range(reviewers):
        user = User.objects.create_user(f"bench-reviewer-{i:02d}", password=PASSWORD)
        permissions.grant_queue(queue, user)
        usernames.append(user.username)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO agents_document (process_id, source, original_name, content_type, size, file,
                checksum, text, text_encoding, text_problem, state, created_at, updated_at)
            SELECT %s, 'api', 'bench-' || i || '.txt', 'text/plain', 120, 'documents/bench/' || i || '.txt',
                md5('bench-a-' || i) || md5('bench-b-' || i),
                'ACME Industrial Supplies Ltd' || E'\\n' || 'Invoice No: INV-' || i
                    || E'\\nTOTAL DUE GBP 192.00',
                'utf-8', '', 'in_review', now() - (i %% 86400) * interval '1 second', now()
            FROM generate_series(1, %s) AS i
            """,
            [process.pk, n],
        )
        cursor.execute("SELECT min(id) FROM agents_document WHERE process_id = %s", [process.pk])
        first_document = cursor.fetchone()[0]
    version = process.versions.get(is_active=True)
    run_ = AgentRun.objects.create(
        document_id=first_document,
        agent_version=version,
        output=OUTPUT,
        confidences={"vendor": 0.95, "invoice_number": 0.97, "date": 0.55, "total": 0.99, "currency": 0.98},
        confidence_methods=dict.fromkeys(OUTPUT, "rules"),
        overall_confidence=0.55,
        outcome=AgentRun.Outcome.REVIEW,
        route_reason="low_confidence",
    )
    policy = json.dumps(
        {
            "mode": "autonomous",
            "threshold": "0.85",
            "field_thresholds": {},
            "audit_sample_rate": "0.05",
            "low_fields": ["date"],
        }
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO review_reviewtask (document_id, queue_id, agent_run_id, reason, policy, state,
                priority, due_at, note, created_at)
            SELECT d.id, %s, %s, 'low_confidence', %s::jsonb, 'open', (d.id %% 3)::smallint,
                d.created_at + interval '24 hours' - ((d.id * 7919) %% 172800) * interval '1 second',
                '', d.created_at
            FROM agents_document d WHERE d.process_id = %s
            """,
            [queue.pk, run_.pk, policy, process.pk],
        )
        cursor.execute("VACUUM ANALYZE agents_document")
        cursor.execute("VACUUM ANALYZE review_reviewtask")
    print(f"filled {n:,} open tasks in {time.perf_counter() - started:.0f} s", flush=True)
    return usernames


def existing_reviewers(count: int) -> list[str]:
    from django.contrib.auth.models import User

    names = list(
        User.objects.filter(username__startswith="bench-reviewer-")
        .order_by("username")
        .values_list("username", flat=True)[:count]
    )
    if len(names) < count:
        sys.exit("the existing bench database has too few reviewers: run without --reuse")
    return names


def open_tasks() -> int:
    from review.models import ReviewTask

    return ReviewTask.objects.filter(queue__slug=QUEUE, state=ReviewTask.State.OPEN).count()


def max_task_pk() -> int:
    from django.db.models import Max

    from review.models import ReviewTask

    return ReviewTask.objects.aggregate(m=Max("pk"))["m"]


def mark_done(pk: int, conn) -> None:
    """Untimed, between two timed claims: the claimed task leaves the queue as if decided."""
    conn.execute(
        "UPDATE review_reviewtask SET state = 'decided', decided_at = now(), lease_token = NULL, "
        "lease_expires_at = NULL WHERE id = %s",
        [pk],
        prepare=True,
    )


# --- the app under gunicorn ---------------------------------------------------------------------


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, cwd=ROOT, check=True)


def start_gunicorn(db_url: str, args) -> subprocess.Popen:
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "claim_bench_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)]),
        "DATABASE_URL": db_url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "DB_CONN_MAX_AGE": "600",
    }
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "backoffice.wsgi:application",
        "--bind",
        f"127.0.0.1:{args.port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--worker-class",
        "gthread",
        "--log-level",
        "warning",
        "--backlog",
        "512",
    ]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                print(f"gunicorn: {args.workers} workers x {args.threads} threads on 127.0.0.1:{args.port}")
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    sys.exit("gunicorn did not start")


# --- HTTP clients -------------------------------------------------------------------------------


class Client:
    """One reviewer's browser: a keep-alive connection, cookies, the CSRF header, and its claim.

    HTTP/1.1 over a plain socket, as lean as the load generators written for this (wrk, ...): the
    clients share the two cores with the app and the database, and every millisecond of CPU they
    spend parsing is taken from what is measured. http.client cost about twice as much."""

    def __init__(self, port: int, db_url: str):
        self.port, self.db_url = port, db_url
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.cookies: dict[str, str] = {}
        self.task: tuple[int, str] | None = None  # (pk, lease) of the item on screen
        self.db = None

    def connect(self) -> None:
        """Fresh connections, in the client process that runs a phase (sockets are not shared)."""
        import psycopg

        self.close()
        self.db = psycopg.connect(self.db_url, autocommit=True)
        # The harness's own "task decided" write must cost the measured claim as little as
        # possible: it is not part of the product's claim, only of the loop around it.
        self.db.execute("SET synchronous_commit = off")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def request(self, method: str, path: str, data: dict | None = None, htmx: bool = False):
        """(status, headers with lower-case names, body text); the connection is kept alive."""
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            "Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        ]
        body = b""
        if method == "POST":
            body = urllib.parse.urlencode(data or {}).encode()
            lines += [
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {len(body)}",
                "X-CSRFToken: " + self.cookies.get("csrftoken", ""),
            ]
        if htmx:
            lines.append("HX-Request: true")
        message = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        try:
            return self._exchange(message)
        except (OSError, ConnectionError):  # the server closed an idle keep-alive connection
            self.close()
            return self._exchange(message)

    def _exchange(self, message: bytes):
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(message)
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        status_line, *header_lines = head.split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "set-cookie":
                cookie, _, _ = value.partition(";")
                key, _, cookie_value = cookie.partition("=")
                self.cookies[key.strip()] = cookie_value
            headers[name] = value
        if headers.get("transfer-encoding", "").lower() == "chunked":
            content = b""
            while size := int(self._read_until(b"\r\n"), 16):
                content += self._read_exactly(size)
                self._read_until(b"\r\n")
            self._read_until(b"\r\n")
        else:
            content = self._read_exactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, content.decode()

    def _read_until(self, marker: bytes) -> bytes:
        while (end := self.buffer.find(marker)) < 0:
            self._receive()
        found, self.buffer = self.buffer[:end], self.buffer[end + len(marker) :]
        return found

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._receive()
        found, self.buffer = self.buffer[:size], self.buffer[size:]
        return found

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def log_in(self, username: str) -> None:
        self.request("GET", "/accounts/login/")
        status, _, _ = self.request(
            "POST",
            "/accounts/login/",
            {
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.cookies["csrftoken"],
            },
        )
        if status != 302 or "sessionid" not in self.cookies:
            sys.exit(f"login failed for {username}: {status}")


TASK = re.compile(r'data-task="(\d+)"')
LEASE = re.compile(r'name="lease" value="([0-9a-f-]{36})"')


def parse_panel(content: str) -> tuple[int, str] | None:
    task, lease = TASK.search(content), LEASE.search(content)
    return (int(task.group(1)), lease.group(1)) if task and lease else None


def baseline(client: Client, i: int, max_pk: int) -> None:
    status, _, _ = client.request("GET", f"/bench/baseline/{1 + (i * 7919) % max_pk}/")
    assert status == 200, status


def claim(client: Client, i: int) -> float:
    started = time.perf_counter()
    status, headers, _ = client.request("POST", f"/queues/{QUEUE}/next/")
    elapsed = time.perf_counter() - started
    assert status == 302 and "/tasks/" in headers["location"], (status, headers.get("location"))
    mark_done(int(headers["location"].rstrip("/").rsplit("/", 1)[1]), client.db)
    return elapsed


def submit_and_next(client: Client, i: int) -> float | None:
    if client.task is None:  # untimed: the first item on screen
        _, _, content = client.request("POST", f"/queues/{QUEUE}/next/", htmx=True)
        client.task = parse_panel(content)
    pk, lease = client.task
    started = time.perf_counter()
    status, _, content = client.request("POST", f"/tasks/{pk}/approve/", {"lease": lease}, htmx=True)
    elapsed = time.perf_counter() - started
    assert status == 200, (status, content[:300])
    client.task = parse_panel(content)
    return elapsed


class Row:
    def __init__(
        self, phase: str, reviewers: int, latencies: list[float], wall: float, cpu: dict[str, float]
    ):
        self.phase, self.reviewers, self.count = phase, reviewers, len(latencies)
        self.rate = self.count / wall
        ordered = sorted(latencies)
        self.p50 = statistics.median(ordered) * 1000
        self.p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000
        # CPU milliseconds per request, by who spent them (less noisy than latency on a shared machine)
        self.cpu = {who: seconds * 1000 / self.count for who, seconds in cpu.items()}

    def __str__(self) -> str:
        return (
            f"{self.phase:<18}{self.reviewers:>10}{self.count:>10}{self.rate:>10.1f}"
            f"{self.p50:>10.1f}{self.p95:>10.1f}"
            f"{self.cpu['app']:>8.2f}{self.cpu['db']:>8.2f}{self.cpu['clients']:>8.2f}"
        )


def _cpu_seconds(pids) -> float:
    """User + system CPU seconds the processes `pids` have used so far (gone ones count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _processes() -> list[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every process."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    head, _, rest = stat.read().rpartition(")")
            except OSError:
                continue
            found.append((int(entry), int(rest.split()[1]), head.split("(", 1)[1]))
    return found


def _server_and_database_pids(server_pid: int) -> tuple[list[int], list[int]]:
    """The app server's processes (it and its children) and PostgreSQL's (the machine's: the
    bench is its only client while it runs)."""
    processes = _processes()
    app = [pid for pid, parent, _ in processes if pid == server_pid or parent == server_pid]
    database = [pid for pid, _, name in processes if name == "postgres"]
    return app, database


def run_phase(
    name: str, clients: list[Client], total: int, action, *, processes: int, server_pid: int
) -> Row:
    """Each client is a thread; the threads are spread over `processes` forked client processes,
    so that twenty reviewers do not queue for one interpreter lock as twenty browsers would not.
    All threads start together; the wall time runs from their start to the last one's end. The
    CPU time the app server, PostgreSQL and the clients used in the phase is measured too."""
    per_client = max(1, total // len(clients))
    groups = [clients[i :: min(processes, len(clients))] for i in range(min(processes, len(clients)))]
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(len(clients) + 1)
    results = context.Queue()
    may_exit = context.Event()  # the children's database sessions stay until their CPU is read
    children = [
        context.Process(
            target=_client_process, args=(name, group, per_client, action, barrier, results, may_exit)
        )
        for group in groups
    ]
    for child in children:
        child.start()
    barrier.wait(timeout=300)
    started = time.monotonic()  # the system's clock: comparable with the client processes'
    app, database = _server_and_database_pids(server_pid)
    cpu_before = {"app": _cpu_seconds(app), "db": _cpu_seconds(database)}
    latencies: list[float] = []
    ended = started
    client_cpu = 0.0
    try:
        for _ in children:
            outcome = results.get(timeout=3600)
            if isinstance(outcome, str):
                may_exit.set()  # before the kill: an event set after its waiters died never returns
                for child in children:
                    child.kill()
                raise SystemExit(f"a client process failed in {name}:\n{outcome}")
            latencies.extend(outcome[0])
            ended = max(ended, outcome[1])
            client_cpu += outcome[2]
        app, database = _server_and_database_pids(server_pid)
        cpu = {
            "app": _cpu_seconds(app) - cpu_before["app"],
            "db": _cpu_seconds(database) - cpu_before["db"],
            "clients": client_cpu,
        }
    finally:
        if not may_exit.is_set():
            may_exit.set()
    wall = ended - started
    for child in children:
        child.join()
    return Row(name, len(clients), latencies, wall, cpu)


def _client_process(name, clients, per_client, action, barrier, results, may_exit) -> None:
    """One client process: its clients' threads run the phase; latencies go back on `results`."""
    latencies: list[float] = []
    ended: list[float] = []  # when each thread's last timed action ended (untimed clean-up after)
    errors: list[str] = []
    lock = threading.Lock()

    def work(client: Client) -> None:
        mine = []
        try:
            client.connect()
        except BaseException:
            errors.append(traceback.format_exc())
        barrier.wait()
        try:
            for i in range(per_client):
                if errors:
                    break
                started = time.perf_counter()
                timed = action(client, i)
                mine.append(timed if isinstance(timed, float) else time.perf_counter() - started)
            ended.append(time.monotonic())
            if name == "submit-and-next" and client.task:  # put the item on screen back
                client.request("POST", f"/tasks/{client.task[0]}/release/", {"lease": client.task[1]})
        except BaseException:
            errors.append(traceback.format_exc())
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    cpu_started = sum(os.times()[:2])
    for thread in threads:
        thread.join()
    cpu = sum(os.times()[:2]) - cpu_started
    results.put(errors[0] if errors else (latencies, max(ended), cpu))
    results.close()
    results.join_thread()
    may_exit.wait(timeout=600)
    os._exit(0)  # no cleanup of what the parent owns (its Django connection, the server handle)


if __name__ == "__main__":
    main()
