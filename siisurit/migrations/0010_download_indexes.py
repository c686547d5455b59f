# Two indexes that every download paid for and little else used.
#
# The (tracker, URL) index of tasks: a fifth of inserting a task (its key is the longest of the task's four
# indexes); matching reads a tracker's tasks whole by the tracker's key, only explaining one entry looks a task up by
# URL (it now filters the tracker's tasks). The user index of assignees now holds mapped assignees only: deleting a
# user finds them (`user_id = ANY (…)` implies NOT NULL), an unmapped assignee costs no index entry. GitHub, 20,000
# issues with their assignees: database CPU of a first download 0.355 -> 0.305 s.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("siisurit", "0009_download_keys_by_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="task",
            name="task_tracker_url",
        ),
        migrations.AlterField(
            model_name="taskassignee",
            name="user",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="taskassignee",
            index=models.Index(condition=models.Q(("user__isnull", False)), fields=["user"], name="assignee_user"),
        ),
    ]
