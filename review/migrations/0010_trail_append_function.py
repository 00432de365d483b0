"""Trail appends as one PostgreSQL function: review_trail_append().

Every change appends to one hash chain, under the lock of its head row, and that lock is held
until the transaction ends: appends are serialised. Done from Python the append costs two round
trips under the lock (lock the head, then insert the entry and move the head) with the hashing
in between, and the commit a third; with many triage threads in a worker, each of those waits
for its interpreter lock too, and the queue for the head grows (measured in bench/llm_throughput.py:
a mean wait of 30 ms per document at 64 concurrent documents). This function locks the head,
computes the entry's seq and hash, inserts it and moves the head in one call, and
review/trail.py can send it with the transaction's COMMIT in one message: the head is then
locked only while the server runs the two, never while the client works.

The hash is the one review/trail.py's entry_hash() computes: the SHA-256 of the entry's canonical
JSON. Python renders that JSON with two gaps, one for the predecessor's hash and one for the seq,
which only the locked head knows; the function fills them. Verification is unchanged.
Other databases (SQLite, the embedded demo) append from Python; they run one writer at a time.
"""

from django.db import migrations

INSTALL = """
CREATE OR REPLACE FUNCTION review_trail_append(
    p_created_at timestamptz, p_actor_kind text, p_actor_id text, p_actor_label text, p_action text,
    p_process bigint, p_document bigint, p_data jsonb, p_json_before_prev text, p_json_before_seq text
) RETURNS TABLE (r_id bigint, r_seq bigint, r_prev_hash text, r_hash text)
LANGUAGE plpgsql AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_hash text;
    v_id bigint;
BEGIN
    SELECT h.seq, h.hash INTO v_seq, v_prev FROM review_trailhead h WHERE h.id = 1 FOR UPDATE;
    IF NOT FOUND THEN  -- the very first entry: create the head (concurrent first appends wait here)
        INSERT INTO review_trailhead (id, seq, hash) VALUES (1, 0, repeat('0', 64)) ON CONFLICT (id) DO NOTHING;
        SELECT h.seq, h.hash INTO v_seq, v_prev FROM review_trailhead h WHERE h.id = 1 FOR UPDATE;
    END IF;
    v_seq := v_seq + 1;
    v_hash := encode(sha256(convert_to(
        p_json_before_prev || v_prev || p_json_before_seq || v_seq::text || '}', 'UTF8')), 'hex');
    INSERT INTO review_trailentry (seq, created_at, actor_kind, actor_id, actor_label, action, process_id,
        document_id, data, prev_hash, hash)
    VALUES (v_seq, p_created_at, p_actor_kind, p_actor_id, p_actor_label, p_action, p_process,
        p_document, p_data, v_prev, v_hash)
    RETURNING id INTO v_id;
    UPDATE review_trailhead SET seq = v_seq, hash = v_hash WHERE id = 1;
    RETURN QUERY SELECT v_id, v_seq, v_prev, v_hash;
END;
$$;
"""

UNINSTALL = """
DROP FUNCTION IF EXISTS review_trail_append(timestamptz, text, text, text, text, bigint, bigint, jsonb, text, text);
"""


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNINSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [("review", "0009_task_table_autovacuum")]

    operations = [migrations.RunPython(install, uninstall)]
