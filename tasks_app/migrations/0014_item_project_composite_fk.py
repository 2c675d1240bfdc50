"""Answers and leases: one composite foreign key (item_id, project_id) -> item(id, project_id) in
place of the plain item_id and project_id keys (issue 9, i9fk; see ``ITEM_PROJECT_FK`` in
tasks_app/models.py). Reversible: back to the two plain keys."""

from django.db import migrations, models
import django.db.models.deletion

_FKS = (("tasks_app_answer", "answer_item_project_fk"), ("tasks_app_lease", "lease_item_project_fk"))


class Migration(migrations.Migration):

    dependencies = [
        ("tasks_app", "0013_answer_annotator_newest"),
    ]

    operations = [
        migrations.AlterField(
            model_name="answer",
            name="item",
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="answers", to="tasks_app.item"),
        ),
        migrations.AlterField(
            model_name="answer",
            name="project",
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="answers", to="tasks_app.project"),
        ),
        migrations.AlterField(
            model_name="lease",
            name="item",
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="leases", to="tasks_app.item"),
        ),
        migrations.AlterField(
            model_name="lease",
            name="project",
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="leases", to="tasks_app.project"),
        ),
        migrations.AddConstraint(
            model_name="item",
            constraint=models.UniqueConstraint(fields=("id", "project"), name="item_id_project_unique"),
        ),
        migrations.RunSQL(
            sql=[f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (item_id, project_id) "
                 "REFERENCES tasks_app_item (id, project_id) DEFERRABLE INITIALLY DEFERRED" for table, name in _FKS],
            reverse_sql=[f"ALTER TABLE {table} DROP CONSTRAINT {name}" for table, name in _FKS],
        ),
    ]
