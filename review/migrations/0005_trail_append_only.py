"""The decision trail becomes append-only in the database itself.

On PostgreSQL a trigger rejects UPDATE, DELETE and TRUNCATE on the trail entries and on the
checkpoints that anchor the chain's head (TRUNCATE is left to superusers, who can bypass triggers
anyway, so that Django's test flush works). Only the table owner can get past it (ALTER TABLE ...
DISABLE TRIGGER, or a superuser's session_replication_role = replica), and whatever they change
then is caught by the hash chain (see review.trail_verify). Other databases (the embedded SQLite
default) rely on the ORM's refusal alone.
"""

from django.db import migrations, models

TABLES = ("review_trailentry", "review_trailcheckpoint")

INSTALL = """
CREATE OR REPLACE FUNCTION review_trail_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- A superuser can bypass any trigger anyway (session_replication_role); letting them TRUNCATE
    -- keeps Django's test flush working. Everyone else, the application role included, is refused.
    IF TG_OP = 'TRUNCATE' AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % rejected', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""
TRIGGERS = """
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION review_trail_reject_change();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION review_trail_reject_change();
"""
DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS {table}_append_only ON {table};
DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};
"""
UNINSTALL = "DROP FUNCTION IF EXISTS review_trail_reject_change();"


def install_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(INSTALL, params=None)
    for table in TABLES:
        schema_editor.execute(TRIGGERS.format(table=table), params=None)


def remove_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(DROP_TRIGGERS.format(table=table), params=None)
    schema_editor.execute(UNINSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [("review", "0004_reviewer_claim_times")]

    operations = [
        migrations.AddIndex(
            model_name="trailentry",
            index=models.Index(fields=["actor_kind", "actor_id", "seq"], name="trail_actor_seq"),
        ),
        migrations.RunPython(install_triggers, remove_triggers),
    ]
