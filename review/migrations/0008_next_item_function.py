""""Next item" as one PostgreSQL function: review_next_item().

A reviewer's "next item" is the product's hot path. As separate statements it costs six round
trips (the queue grant, BEGIN, the reviewer's lock, the held claim, the claim, COMMIT) and, sent as
one batch of literal SQL, the planner's work on every call; as a PL/pgSQL function it is one
round trip, its plans are cached per connection, and each statement inside still sees what the
statement before it committed (the reviewer's lock comes first). review/claims_postgres.py calls
it; on SQLite (the embedded demo) review/claims.py runs the same steps through the ORM.

What it does, for one reviewer and one queue (by slug, with the grant check, or by an id the
caller already checked):
1. with `relax_commit`, lets its own transaction commit without waiting for the WAL flush (a
   claim lost in a crash only leaves the task open);
2. takes the reviewer's advisory lock (7301, user id): their "next" and their "claim ahead"
   never run side by side;
3. renews the leases of the reviewer's live claims in the queue;
4. "next": puts the oldest live claim on screen (an item they left, then the one claimed ahead),
   else claims the first open task in claim order and starts it;
   "claim ahead" (`ahead_limit`): claims one more, not started, while they hold fewer than that;
5. returns the queue and the task (task columns NULL when there is none), or no row when there
   is no such queue or the reviewer does not hold it.
The claim is `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)` on the partial index
task_claim_order: concurrent claimers skip each other's rows and never share a task.
"""

from django.db import migrations

INSTALL = """
CREATE OR REPLACE FUNCTION review_next_item(
    p_user integer, p_slug text, p_queue bigint, p_now timestamptz, p_expires timestamptz,
    p_token uuid, p_exclude bigint, p_ahead_limit integer, p_relax_commit boolean
) RETURNS TABLE (
    r_queue_id bigint, r_process_id bigint, r_slug text, r_name text, r_kind text,
    r_queue_created_at timestamptz, r_task_id bigint, r_lease_token uuid, r_started_at timestamptz,
    r_claimed_at timestamptz
)
LANGUAGE plpgsql AS $$
DECLARE
    q review_queue%ROWTYPE;
    v_live integer;
    v_shown bigint;
    v_id bigint;
    v_token uuid;
    v_started timestamptz;
    v_claimed timestamptz;
BEGIN
    IF p_relax_commit THEN
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    PERFORM pg_advisory_xact_lock(7301, p_user);

    IF p_slug IS NOT NULL THEN
        SELECT * INTO q FROM review_queue rq
        WHERE rq.slug = p_slug AND (
            EXISTS (SELECT 1 FROM review_queueuserobjectpermission g
                    JOIN auth_permission p ON p.id = g.permission_id
                    WHERE g.content_object_id = rq.id AND g.user_id = p_user AND p.codename = 'work_queue')
            OR EXISTS (SELECT 1 FROM review_queuegroupobjectpermission g
                    JOIN auth_permission p ON p.id = g.permission_id
                    JOIN auth_user_groups ug ON ug.group_id = g.group_id
                    WHERE g.content_object_id = rq.id AND ug.user_id = p_user AND p.codename = 'work_queue'));
    ELSE
        SELECT * INTO q FROM review_queue rq WHERE rq.id = p_queue;
    END IF;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    WITH renewed AS (
        UPDATE review_reviewtask t SET lease_expires_at = p_expires
        WHERE t.queue_id = q.id AND t.state = 'claimed' AND t.claimed_by_id = p_user
          AND t.lease_expires_at > p_now AND t.id <> p_exclude
        RETURNING t.id, t.started_at, t.claimed_at
    )
    SELECT count(*), (array_agg(r.id ORDER BY r.started_at, r.claimed_at, r.id))[1]
    INTO v_live, v_shown FROM renewed r;

    IF p_ahead_limit IS NULL AND v_shown IS NOT NULL THEN
        UPDATE review_reviewtask t SET started_at = coalesce(t.started_at, p_now)
        WHERE t.id = v_shown
        RETURNING t.id, t.lease_token, t.started_at, t.claimed_at INTO v_id, v_token, v_started, v_claimed;
    ELSIF v_live < coalesce(p_ahead_limit, 1) THEN
        UPDATE review_reviewtask t
        SET state = 'claimed', claimed_by_id = p_user, lease_token = p_token, lease_expires_at = p_expires,
            claimed_at = p_now, started_at = CASE WHEN p_ahead_limit IS NULL THEN p_now END
        WHERE t.id = (
            SELECT o.id FROM review_reviewtask o
            WHERE o.queue_id = q.id AND o.state = 'open'
            ORDER BY o.priority DESC, o.due_at, o.id
            LIMIT 1
            FOR UPDATE SKIP LOCKED
        )
        RETURNING t.id, t.lease_token, t.started_at, t.claimed_at INTO v_id, v_token, v_started, v_claimed;
    END IF;

    RETURN QUERY SELECT q.id, q.process_id, q.slug::text, q.name::text, q.kind::text, q.created_at,
        v_id, v_token, v_started, v_claimed;
END;
$$;
"""
UNINSTALL = (
    "DROP FUNCTION IF EXISTS review_next_item(integer, text, bigint, timestamptz, timestamptz, uuid, bigint, "
    "integer, boolean);"
)


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNINSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [("review", "0007_queue_oldest_index")]

    operations = [migrations.RunPython(install, uninstall)]
