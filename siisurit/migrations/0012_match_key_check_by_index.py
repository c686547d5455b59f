# The key check of work entry matches looks rows up by index whatever the planner's statistics say, as the key
# triggers of download_keys do since key_triggers_by_index: a download that changes entries updates their matches,
# and that check's plan, kept by the session, could read the whole work entry or task table for every match after
# being made while they were tiny. Deleting a work entry's match goes by its primary key the same way. (Matches of a
# deleted task or work match are found by a scan in any case: the narrow match table has no index on those keys.)

from django.db import migrations

_FUNCTIONS = ("siisurit_workentrymatch_check", "siisurit_workentrymatch_delete_of_workentry")


class Migration(migrations.Migration):
    dependencies = [
        ("siisurit", "0011_key_triggers_by_index"),
    ]

    operations = [
        migrations.RunSQL(
            sql=[f"ALTER FUNCTION {function}() SET enable_seqscan = off" for function in _FUNCTIONS],
            reverse_sql=[f"ALTER FUNCTION {function}() RESET enable_seqscan" for function in _FUNCTIONS],
        ),
    ]
