# issue 9, fifth round: indexes every write of the hot path paid for without a reader that needed them
# (each single-column FK index duplicated the first column of a composite index of the same table)
# and the lease expiry index made partial on live leases (its only readers filter state = 'active').
#
# The FK indexes are dropped with plain DROP INDEX (SeparateDatabaseAndState): Django's AlterField
# would also drop and re-add each foreign key constraint, re-validating every answer row under a
# lock that blocks writes. The names are the ones Django gave them (the same on every backend).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

_FK_INDEXES = [  # (index, table, column)
    ("tasks_app_answer_annotator_id_a0105130", "tasks_app_answer", "annotator_id"),
    ("tasks_app_answer_item_id_dc7ab2d1", "tasks_app_answer", "item_id"),
    ("tasks_app_answer_project_id_e880953a", "tasks_app_answer", "project_id"),
    ("tasks_app_item_project_id_ead556c9", "tasks_app_item", "project_id"),
    ("tasks_app_lease_project_id_4b95828f", "tasks_app_lease", "project_id"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('tasks_app', '0010_item_repeat_of'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='lease',
            name='lease_expiry_idx',
        ),
        migrations.AddIndex(
            model_name='lease',
            index=models.Index(condition=models.Q(('state', 'active')), fields=['expires_at'], name='lease_live_expiry_idx'),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', f'CREATE INDEX "{name}" ON "{table}" ("{column}")')
                for name, table, column in _FK_INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='answer',
                    name='annotator',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='answers', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='answer',
                    name='item',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='answers', to='tasks_app.item'),
                ),
                migrations.AlterField(
                    model_name='answer',
                    name='project',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='answers', to='tasks_app.project'),
                ),
                migrations.AlterField(
                    model_name='item',
                    name='project',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='items', to='tasks_app.project'),
                ),
                migrations.AlterField(
                    model_name='lease',
                    name='project',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='leases', to='tasks_app.project'),
                ),
            ],
        ),
    ]
