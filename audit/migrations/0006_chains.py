"""Several hash chains instead of one: the existing single chain becomes chain 0, its events keep
their positions and hashes (hash version 1, the formula they were written with), and its head row
(id 1) becomes chain 0's head. Lists order by id instead of seq."""

from django.db import migrations, models


def single_chain_becomes_chain_zero(apps, schema_editor):
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    AuditChainHead.objects.filter(pk=1).update(id=0)


def chain_zero_becomes_the_single_chain(apps, schema_editor):
    AuditChainHead = apps.get_model("audit", "AuditChainHead")
    AuditEvent = apps.get_model("audit", "AuditEvent")
    if AuditEvent.objects.exclude(chain=0).exists() or AuditChainHead.objects.exclude(pk=0).exists():
        raise RuntimeError("events in chains other than 0 cannot go back to a single chain")
    AuditChainHead.objects.filter(pk=0).update(id=1)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_jwt_key_events"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="auditchainhead", name="audit_single_chain_head"),
        migrations.AlterField(
            model_name="auditchainhead",
            name="id",
            field=models.PositiveSmallIntegerField(primary_key=True, serialize=False),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="chain",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        # Existing rows: version 1; new rows: version 2.
        migrations.AddField(
            model_name="auditevent",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash_version",
            field=models.PositiveSmallIntegerField(default=2),
        ),
        migrations.RunPython(single_chain_becomes_chain_zero, chain_zero_becomes_the_single_chain),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(fields=("chain", "seq"), name="audit_chain_seq_uniq"),
        ),
        migrations.AlterModelOptions(name="auditevent", options={"ordering": ["-id"]}),
        migrations.RemoveIndex(model_name="auditevent", name="audit_event_seq_idx"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_actor_label_idx"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_target_label_idx"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_actor_ref_seq_idx"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_target_ref_seq_idx"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_outcome_seq_idx"),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["event", "-id"], name="audit_event_id_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["actor_label", "-id"], name="audit_actor_label_id_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["target_label", "-id"], name="audit_target_label_id_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["actor_ref", "-id"], name="audit_actor_ref_id_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["target_ref", "-id"], name="audit_target_ref_id_idx"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["outcome", "-id"], name="audit_outcome_id_idx"),
        ),
    ]
