# The key triggers of download_keys look rows up by index, so their cost follows the statement, not the table.
#
# Joined with a transition table, the referenced or referring table was read whole (a hash join over every task to
# check one batch's assignees, every assignee to delete one batch's tasks). Now each distinct key of the statement
# is looked up and locked on its own (a LATERAL subquery the planner cannot turn into a hash join), and deleted or
# unlinked rows are found with `= ANY (ARRAY(…))`, an index condition.

from django.db import migrations

# (table, key column, referenced table, what deleting the referenced row does): as in download_keys
_KEYS = (
    ("siisurit_workentry", "tracker_id", "siisurit_tracker", "delete"),
    ("siisurit_workentry", "user_id", "siisurit_user", "set null"),
    ("siisurit_task", "tracker_id", "siisurit_tracker", "delete"),
    ("siisurit_taskassignee", "task_id", "siisurit_task", "delete"),
    ("siisurit_taskassignee", "user_id", "siisurit_user", "set null"),
)


def _check(table):
    statements = "".join(
        f"""
            SELECT count(*), count(found.id) INTO wanted, present
            FROM (SELECT DISTINCT n.{column} AS id FROM new_rows AS n WHERE n.{column} IS NOT NULL) AS k
            LEFT JOIN LATERAL (SELECT r.id FROM {referenced} AS r WHERE r.id = k.id FOR KEY SHARE) AS found ON true;
            IF present < wanted THEN
                RAISE foreign_key_violation USING MESSAGE = '{table}.{column} names a missing {referenced} row';
            END IF;"""
        for key_table, column, referenced, _ in _KEYS
        if key_table == table
    )
    return f"""
        CREATE OR REPLACE FUNCTION {table}_keys_check() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            wanted bigint;
            present bigint;
        BEGIN{statements}
            RETURN NULL;
        END $$
        """


def _on_delete(referenced):
    changes = " ".join(
        f"DELETE FROM {table} WHERE {column} = ANY (ARRAY(SELECT id FROM deleted));"
        if action == "delete"
        else f"UPDATE {table} SET {column} = NULL WHERE {column} = ANY (ARRAY(SELECT id FROM deleted));"
        for table, column, key_referenced, action in _KEYS
        if key_referenced == referenced
    )
    return f"""
        CREATE OR REPLACE FUNCTION {referenced}_keys_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {changes}
            RETURN NULL;
        END $$
        """


class Migration(migrations.Migration):
    dependencies = [
        ("siisurit", "0008_download_keys"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[
                *(_check(table) for table in dict.fromkeys(key[0] for key in _KEYS)),
                *(_on_delete(referenced) for referenced in dict.fromkeys(key[2] for key in _KEYS)),
            ],
            # The functions of download_keys do the same, only slower: nothing to undo.
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
