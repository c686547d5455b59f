# Downloaded rows (work entries, tasks, assignees) keep their keys without per-row foreign key checks.
#
# A foreign key constraint queues one check per inserted row, run at COMMIT (3.5 µs a row, a fifth of a first
# download's database time). Instead, as the match table of work_entry_matches does, each table checks its keys once
# per statement: after an INSERT or UPDATE, the rows it names are locked as a foreign key would lock them (FOR KEY
# SHARE: not deleted before this transaction ends) and the statement fails if one is missing. Deleting a tracker,
# task or user, or truncating their table, does in the database what Django does in Python: delete the tracker's
# work entries and tasks, a task's assignees; set the user of work entries and assignees to NULL. The user key of
# work entries loses its own index (work_user_started starts with it).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (table, key column, referenced table, what deleting the referenced row does)
_KEYS = (
    ("siisurit_workentry", "tracker_id", "siisurit_tracker", "delete"),
    ("siisurit_workentry", "user_id", "siisurit_user", "set null"),
    ("siisurit_task", "tracker_id", "siisurit_tracker", "delete"),
    ("siisurit_taskassignee", "task_id", "siisurit_task", "delete"),
    ("siisurit_taskassignee", "user_id", "siisurit_user", "set null"),
)
_TABLES = list(dict.fromkeys(key[0] for key in _KEYS))
_REFERENCED = list(dict.fromkeys(key[2] for key in _KEYS))


def _check(table):
    statements = []
    for _, column, referenced, _ in (key for key in _KEYS if key[0] == table):
        statements.append(
            f"""
            PERFORM FROM {referenced} AS r WHERE r.id IN (SELECT n.{column} FROM new_rows AS n) FOR KEY SHARE;
            IF EXISTS (
                SELECT FROM (SELECT DISTINCT n.{column} AS id FROM new_rows AS n WHERE n.{column} IS NOT NULL) AS n
                WHERE NOT EXISTS (SELECT FROM {referenced} AS r WHERE r.id = n.id)
            ) THEN
                RAISE foreign_key_violation USING MESSAGE = '{table}.{column} names a missing {referenced} row';
            END IF;"""
        )
    return [
        f"""
        CREATE FUNCTION {table}_keys_check() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN{"".join(statements)}
            RETURN NULL;
        END $$
        """,
        *(
            f"""
            CREATE TRIGGER {table}_keys_{event} AFTER {event} ON {table}
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {table}_keys_check()
            """
            for event in ("insert", "update")
        ),
    ]


def _on_delete(referenced):
    deletes = []
    for table, column, _, action in (key for key in _KEYS if key[2] == referenced):
        if action == "delete":
            deletes.append(f"DELETE FROM {table} AS t USING deleted WHERE t.{column} = deleted.id;")
        else:
            deletes.append(f"UPDATE {table} AS t SET {column} = NULL FROM deleted WHERE t.{column} = deleted.id;")
    return [
        f"""
        CREATE FUNCTION {referenced}_keys_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {" ".join(deletes)}
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE TRIGGER {referenced}_keys_delete AFTER DELETE ON {referenced}
        REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION {referenced}_keys_delete()
        """,
    ]


def _on_truncate(referenced):
    emptied = [key[0] for key in _KEYS if key[2] == referenced and key[3] == "delete"]
    nulled = [f"UPDATE {key[0]} SET {key[1]} = NULL WHERE {key[1]} IS NOT NULL;" for key in _KEYS if key[2] == referenced and key[3] == "set null"]
    # Every referenced row is gone, so are the rows referring to them (and, by CASCADE, what refers to those). A
    # table truncated by the same statement (Django's flush names them all) cannot be truncated again: delete instead.
    empty = (
        f"""
            BEGIN
                TRUNCATE {", ".join(emptied)} CASCADE;
            EXCEPTION WHEN object_in_use THEN
                {" ".join(f"DELETE FROM {table};" for table in emptied)}
            END;"""
        if emptied
        else ""
    )
    return [
        f"""
        CREATE FUNCTION {referenced}_keys_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN{empty}
            {" ".join(nulled)}
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE TRIGGER {referenced}_keys_truncate AFTER TRUNCATE ON {referenced}
        FOR EACH STATEMENT EXECUTE FUNCTION {referenced}_keys_truncate()
        """,
    ]


_KEYS_SQL = [
    *(statement for table in _TABLES for statement in _check(table)),
    *(statement for referenced in _REFERENCED for statement in (*_on_delete(referenced), *_on_truncate(referenced))),
]
_KEYS_DROP = [
    *(f"DROP TRIGGER {table}_keys_{event} ON {table}" for table in _TABLES for event in ("insert", "update")),
    *(f"DROP FUNCTION {table}_keys_check()" for table in _TABLES),
    *(f"DROP TRIGGER {referenced}_keys_{event} ON {referenced}" for referenced in _REFERENCED for event in ("delete", "truncate")),
    *(f"DROP FUNCTION {referenced}_keys_{event}()" for referenced in _REFERENCED for event in ("delete", "truncate")),
]


class Migration(migrations.Migration):

    dependencies = [
        ('siisurit', '0007_work_entry_matches'),
    ]

    operations = [
        migrations.AlterField(
            model_name='task',
            name='tracker',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='tasks', to='siisurit.tracker'),
        ),
        migrations.AlterField(
            model_name='taskassignee',
            name='task',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='assignees', to='siisurit.task'),
        ),
        migrations.AlterField(
            model_name='taskassignee',
            name='user',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='workentry',
            name='tracker',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='work_entries', to='siisurit.tracker'),
        ),
        migrations.AlterField(
            model_name='workentry',
            name='user',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunSQL(sql=_KEYS_SQL, reverse_sql=_KEYS_DROP),
    ]
