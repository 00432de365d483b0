"""Documents/s through triage with an LLM agent, a real Celery worker and a 500 ms model.

Starts the fake OpenAI-compatible server with a fixed latency per call, creates a throwaway
PostgreSQL database (dropped and re-created on every run), migrates it, sets up the standard
processes with an openai agent version pointing at the fake server (confidence "logprobs": one
call per document), then for each concurrency C starts
`celery -A backoffice worker -Q agents --pool threads -c C/P --prefetch-multiplier 2` in each of
P processes (default: two per core, as the README sizes the agents worker), warms it up with C documents and
measures `per_slot * C` documents from the first task sent to the last document settled (the
worker's own timestamps). Ideal throughput is C / latency; the target is >= 0.8 of it.

    .venv/bin/python bench/llm_throughput.py [--levels 1,8,32,64] [--runs 3] [--latency 0.5]
        [--database-url postgres://postgres@127.0.0.1:5432/backoffice_bench_llm]
        [--redis-url redis://127.0.0.1:6379/15]   # this Redis database is flushed

Needs PostgreSQL and Redis (`make services`). Each worker thread holds a database connection:
PostgreSQL's max_connections must exceed the largest level plus a few.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dj_database_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fake_openai import FakeOpenAI, RecordedRequest, answer  # noqa: E402

SAMPLE_VALUES = {"date": "2024-03-14", "decimal": "192.00", "currency": "GBP"}


def model_answer(request: RecordedRequest):
    """A confident, valid answer to whatever schema the request asks for."""
    schema = request.body["response_format"]["json_schema"]["schema"]["properties"]
    values = {}
    for name, prop in schema.items():
        if name in ("reasoning", "stated_confidence"):
            continue
        pattern = prop.get("pattern", "")
        if prop.get("enum"):
            values[name] = prop["enum"][0]
        elif "\\d{4}" in pattern:
            values[name] = SAMPLE_VALUES["date"]
        elif "[A-Z]{3}" in pattern:
            values[name] = SAMPLE_VALUES["currency"]
        elif pattern:
            values[name] = SAMPLE_VALUES["decimal"]
        else:
            values[name] = f"{name} value"
    return answer(values, logprobs=-0.001, usage=(600, 60))


def create_database(url: str, *, async_commit: bool) -> None:
    import psycopg

    config = dj_database_url.parse(url)
    name = config["NAME"]
    if not name.startswith("backoffice_bench"):
        raise SystemExit(
            f"refusing to drop {name!r}: the bench database name must start with backoffice_bench"
        )
    admin = dict(host=config["HOST"], port=config["PORT"] or 5432, user=config["USER"], dbname="postgres")
    if config.get("PASSWORD"):
        admin["password"] = config["PASSWORD"]
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
        if async_commit:  # diagnosis only: commits stop waiting for the WAL flush
            conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=os.environ, check=True
    )


def set_up(fake: FakeOpenAI) -> Any:
    """Standard processes, each with an active openai version on the fake server; returns invoices."""
    from agents.models import Process
    from review import configuration
    from review.provisioning import ensure_standard_processes
    from review.trail import System

    ensure_standard_processes()
    actor = System("bench")
    for process in Process.objects.all():
        version = configuration.create_agent_version(
            process=process,
            actor=None,
            provider="openai",
            model="fake-llm",
            instructions="Extract the fields.",
            settings={
                "endpoints": [{"base_url": fake.base_url}],
                "timeout_s": 10,
                "max_retries": 0,
                "confidence": "logprobs",
            },
        )
        configuration.activate_agent_version(version=version, actor=actor)
        configuration.change_autonomy(
            process=process,
            changes={"autonomy_mode": "autonomous", "confidence_threshold": "0.5", "audit_sample_rate": "0"},
            actor=actor,
        )
    return Process.objects.get(slug="invoice-extraction")


def make_documents(process: Any, count: int, tag: str) -> list[int]:
    from agents import services
    from tests.helpers import CLEAN_INVOICE

    return [
        services.store_document(
            process=process,
            filename=f"{tag}-{i}.txt",
            data=f"{CLEAN_INVOICE}\nref {tag}-{i}\n".encode(),
            source="api",
            actor=None,
        ).document.pk
        for i in range(count)
    ]


def triage(ids: list[int], timeout: float) -> tuple[float, float]:
    """Send one task per document; (seconds from first send to last settled, seconds to send them all)."""
    from django.db.models import Max
    from django.utils import timezone

    from agents.models import Document
    from review.tasks import triage_document

    started = timezone.now()
    for pk in ids:
        triage_document.delay(pk)
    sent = (timezone.now() - started).total_seconds()
    deadline = time.monotonic() + timeout
    settled = Document.objects.filter(pk__in=ids).exclude(state__in=Document.OPEN_STATES)
    while settled.count() < len(ids):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {settled.count()}/{len(ids)} documents triaged")
        time.sleep(0.02)
    accepted = settled.filter(state=Document.State.AUTO_ACCEPTED).count()
    if accepted != len(ids):
        raise SystemExit(f"only {accepted}/{len(ids)} documents were accepted: the set-up is wrong")
    last = settled.aggregate(last=Max("updated_at"))["last"]
    return (last - started).total_seconds(), sent


def start_worker(concurrency: int, log_path: Path) -> subprocess.Popen:
    log = log_path.open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "backoffice", "worker", "-Q", "agents", "--pool", "threads",
         "-c", str(concurrency), "--prefetch-multiplier", "2", "-n", f"{log_path.stem}@%h",
         "--without-gossip", "--without-mingle",
         "--without-heartbeat", "-l", "INFO", *os.environ.get("EXTRA_WORKER_ARGS", "").split()],
        cwd=ROOT, env=os.environ, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while " ready." not in log_path.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    return worker


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux): "worker ms" is what one document costs the workers."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine (backends come and go; the sum still
    tells how much database work the documents cost)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres" in text or "(postmaster" in text:
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def own_cpu_seconds() -> float:
    """This process: the fake model server's threads, the sender and the poller."""
    usage = os.times()
    return usage.user + usage.system


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1,8,32,64")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per model call")
    parser.add_argument(
        "--processes",
        type=int,
        default=2 * (os.cpu_count() or 1),
        help="worker processes sharing each level's threads (one interpreter lock each); default: two "
        "per core, as the README sizes the agents worker",
    )
    parser.add_argument(
        "--async-commit",
        action="store_true",
        help="diagnosis: synchronous_commit=off on the bench database, to show what the WAL flush costs "
        "while the trail head row is locked",
    )
    parser.add_argument("--per-slot", type=int, default=8, help="documents measured per worker thread")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/backoffice_bench_llm")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15", help="flushed at the start")
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]

    media = tempfile.mkdtemp(prefix="bench-llm-media-")
    os.environ.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        CELERY_TASK_ALWAYS_EAGER="0",
        MEDIA_ROOT=media,
        # the worker as deployed: DEBUG off (no per-query debug logging in the worker)
        DEBUG="0",
        SECRET_KEY="bench-only-secret-key-not-for-production-0123456789",
        LOG_LEVEL="WARNING",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    create_database(args.database_url, async_commit=args.async_commit)

    import django

    django.setup()
    log_dir = ROOT / ".pytest_cache"
    log_dir.mkdir(exist_ok=True)

    with FakeOpenAI(default=model_answer, latency=args.latency) as fake:
        invoices = set_up(fake)
        print(
            f"model latency {args.latency * 1000:.0f} ms, {os.cpu_count()} cores, threads pool,"
            " one model call per document"
        )
        print(
            f"{'PxT':>6} {'docs':>5} {'docs/s (runs)':>22} {'median':>8} {'ideal':>7} {'ratio':>6}"
            f" {'worker ms':>9} {'postgres ms':>11} {'fake+bench ms':>13}"
        )
        for concurrency in levels:
            processes = min(args.processes, concurrency)
            workers = [
                start_worker(concurrency // processes, log_dir / f"bench-llm-worker-{i}.log")
                for i in range(processes)
            ]
            try:
                triage(make_documents(invoices, concurrency, f"warm{concurrency}"), timeout=120)
                count = args.per_slot * concurrency
                rates, cpu, pg_cpu, own_cpu = [], [], [], []
                for run in range(args.runs):
                    ids = make_documents(invoices, count, f"c{concurrency}r{run}")
                    before = sum(cpu_seconds(w.pid) for w in workers)
                    pg_before, own_before = postgres_cpu_seconds(), own_cpu_seconds()
                    seconds, _ = triage(ids, timeout=120 + count * args.latency)
                    cpu.append((sum(cpu_seconds(w.pid) for w in workers) - before) / count)
                    pg_cpu.append((postgres_cpu_seconds() - pg_before) / count)
                    own_cpu.append((own_cpu_seconds() - own_before) / count)
                    rates.append(count / seconds)
            finally:
                for worker in workers:
                    stop_worker(worker)
            ideal = concurrency / args.latency
            median = statistics.median(rates)
            runs = ", ".join(f"{rate:.1f}" for rate in rates)
            shape = f"{processes}x{concurrency // processes}"
            print(
                f"{shape:>6} {count:>5} {runs:>22} {median:>8.1f} {ideal:>7.1f} {median / ideal:>6.2f}"
                f" {statistics.median(cpu) * 1000:>9.1f} {statistics.median(pg_cpu) * 1000:>11.1f}"
                f" {statistics.median(own_cpu) * 1000:>13.1f}"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
