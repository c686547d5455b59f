# Work entry matches move to a narrow table of their own (matching writes what changed, not wide entry rows).

import django.db.models.deletion
from django.db import migrations, models

_MATCH = "siisurit_workentrymatch"
# The keys of the match table, checked once per statement rather than once per row: a statement writing matches
# fails if one of them names a missing work entry, task or work match (three anti-joins over its new rows; skipped
# for the matching engine, see siisurit.matching.engine.KEYS_CHECKED_SETTING), and
# deleting or truncating work entries, tasks or work matches deletes their matches (one join over the old rows).
_KEYS = [
    f"""
    CREATE FUNCTION {_MATCH}_check() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- Set by the matching engine, whose every written id comes from a join with its row in the same statement.
        IF current_setting('siisurit.match_keys_checked', true) = 'on' THEN
            RETURN NULL;
        END IF;
        IF EXISTS (
            SELECT FROM new_matches AS m WHERE NOT EXISTS (SELECT FROM siisurit_workentry AS e WHERE e.id = m.work_entry_id)
        ) OR EXISTS (
            SELECT FROM new_matches AS m WHERE NOT EXISTS (SELECT FROM siisurit_task AS t WHERE t.id = m.task_id)
        ) OR EXISTS (
            SELECT FROM new_matches AS m WHERE m.work_match_id IS NOT NULL
            AND NOT EXISTS (SELECT FROM siisurit_workmatch AS r WHERE r.id = m.work_match_id)
        ) THEN
            RAISE foreign_key_violation USING MESSAGE = 'a work entry match names a missing work entry, task or work match';
        END IF;
        RETURN NULL;
    END $$
    """,
    *(
        f"""
        CREATE TRIGGER {_MATCH}_{event}_check AFTER {event} ON {_MATCH}
        REFERENCING NEW TABLE AS new_matches FOR EACH STATEMENT EXECUTE FUNCTION {_MATCH}_check()
        """
        for event in ("insert", "update")
    ),
    *(
        statement
        for table, column in (("workentry", "work_entry_id"), ("task", "task_id"), ("workmatch", "work_match_id"))
        for statement in (
            f"""
            CREATE FUNCTION {_MATCH}_delete_of_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                DELETE FROM {_MATCH} AS m USING deleted WHERE m.{column} = deleted.id;
                RETURN NULL;
            END $$
            """,
            f"""
            CREATE TRIGGER {_MATCH}_delete AFTER DELETE ON siisurit_{table}
            REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION {_MATCH}_delete_of_{table}()
            """,
            f"""
            CREATE TRIGGER {_MATCH}_truncate AFTER TRUNCATE ON siisurit_{table}
            FOR EACH STATEMENT EXECUTE FUNCTION {_MATCH}_truncate()
            """,
        )
    ),
]
_KEYS.insert(
    0,
    f"""
    CREATE FUNCTION {_MATCH}_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM {_MATCH};
        RETURN NULL;
    END $$
    """,
)
_KEYS_DROP = [
    *(f"DROP TRIGGER {_MATCH}_{event} ON siisurit_{table}" for table in ("workentry", "task", "workmatch") for event in ("delete", "truncate")),
    *(f"DROP TRIGGER {_MATCH}_{event}_check ON {_MATCH}" for event in ("insert", "update")),
    *(f"DROP FUNCTION {_MATCH}_delete_of_{table}()" for table in ("workentry", "task", "workmatch")),
    f"DROP FUNCTION {_MATCH}_check()",
    f"DROP FUNCTION {_MATCH}_truncate()",
]


class Migration(migrations.Migration):
    dependencies = [
        ("siisurit", "0006_work_match_source_line"),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkEntryMatch",
            fields=[
                (
                    "work_entry",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="match",
                        serialize=False,
                        to="siisurit.workentry",
                    ),
                ),
                (
                    "matched_at",
                    models.DateTimeField(blank=True, help_text="NULL: a download changed the entry since", null=True),
                ),
                (
                    "task",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="siisurit.task",
                    ),
                ),
                (
                    "work_match",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="siisurit.workmatch",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "work entry matches",
            },
        ),
        migrations.RunSQL(
            # Existing matches move over.
            sql="""
                INSERT INTO siisurit_workentrymatch (work_entry_id, task_id, work_match_id, matched_at)
                SELECT id, task_id, work_match_id, matched_at FROM siisurit_workentry
                WHERE task_id IS NOT NULL
            """,
            reverse_sql="""
                UPDATE siisurit_workentry AS entry
                SET task_id = match.task_id, work_match_id = match.work_match_id, matched_at = match.matched_at
                FROM siisurit_workentrymatch AS match WHERE match.work_entry_id = entry.id
            """,
        ),
        migrations.RunSQL(sql=_KEYS, reverse_sql=_KEYS_DROP),
        migrations.CreateModel(
            name="WorkMatchState",
            fields=[
                (
                    "work_tracker",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="siisurit.tracker",
                    ),
                ),
                ("rules", models.JSONField(default=list, help_text="a fingerprint of each applying rule, in evaluation order")),
                ("tasks", models.CharField(blank=True, default="", help_text="a fingerprint of the tasks", max_length=100)),
            ],
        ),
        migrations.RemoveField(
            model_name="workentry",
            name="matched_at",
        ),
        migrations.RemoveField(
            model_name="workentry",
            name="task",
        ),
        migrations.RemoveField(
            model_name="workentry",
            name="work_match",
        ),
    ]
