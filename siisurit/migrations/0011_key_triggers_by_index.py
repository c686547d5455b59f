# The key triggers of download_keys look rows up by index whatever the planner's statistics say.
#
# Their lookups (each key of a statement, and the rows referring to deleted ones) ran inside PL/pgSQL, whose plans
# are kept for the session. A plan made while a table was small (a first download into an empty database, after a
# TRUNCATE) read the referenced table whole for every key, and the session kept it while the table grew: a batch of
# 5,000 issues took 1-9 s instead of 0.08 s until autovacuum's ANALYZE replaced the plan. With sequential scans
# disabled inside these functions only, every lookup uses the key's index (or a bitmap scan of it).

from django.db import migrations

_FUNCTIONS = (
    "siisurit_workentry_keys_check",
    "siisurit_task_keys_check",
    "siisurit_taskassignee_keys_check",
    "siisurit_tracker_keys_delete",
    "siisurit_task_keys_delete",
    "siisurit_user_keys_delete",
)


class Migration(migrations.Migration):
    dependencies = [
        ("siisurit", "0010_download_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[f"ALTER FUNCTION {function}() SET enable_seqscan = off" for function in _FUNCTIONS],
            reverse_sql=[f"ALTER FUNCTION {function}() RESET enable_seqscan" for function in _FUNCTIONS],
        ),
    ]
