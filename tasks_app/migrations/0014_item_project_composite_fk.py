"""Answers and leases: one composite foreign key (item_id, project_id) -> item(id, project_id) in
place of the plain item_id and project_id keys (issue 9, i9fk; see ``ITEM_PROJECT_FK`` in
tasks_app/models.py). Its target: a unique index on item (project_id, id).
Reversible: back to the two plain keys."""

from django.db import migrations, models
import django.db.models.deletion

_FKS = (("tasks_app_answer", "answer_item_project_fk"), ("tasks_app_lease", "lease_item_project_fk"))


def _add_keys(apps, schema_editor):
    # PostgreSQL only: SQLite (the embedded demo run) cannot add a foreign key to a table, so there
    # answers and leases keep no database key on item/project (Django still cascades deletes)
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, name in _FKS:
        schema_editor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (item_id, project_id) "
                              "REFERENCES tasks_app_item (id, project_id) DEFERRABLE INITIALLY DEFERRED")


def _drop_keys(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, name in _FKS:
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")


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
            constraint=models.UniqueConstraint(fields=("project", "id"), name="item_project_id_unique"),
        ),
        migrations.RunPython(_add_keys, _drop_keys),
    ]
