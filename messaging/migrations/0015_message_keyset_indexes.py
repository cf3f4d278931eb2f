"""Keyset pages of messages (issue 16): (…, created_at, id) indexes, so the seek's row comparison
is an index condition. The new indexes are built before the ones they replace are dropped, so
every query keeps an index meanwhile. On PostgreSQL each CREATE INDEX blocks writes to messages
while it runs: 0.4–0.6 s each at 210,000 messages on the benchmark machine (docs/BENCHMARKS.md,
"Message lists"), so about 1.5 s for this migration there, growing with the table."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0014_webhook_attempts_and_disabling"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["contact", "created_at", "id"], name="message_contact_created_id_idx"),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["sub_account", "created_at", "id"], name="message_sub_created_id_idx"),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["bulk_send", "created_at", "id"], name="message_bulk_created_id_idx"),
        ),
        migrations.RemoveIndex(model_name="message", name="message_contact_created_idx"),
        migrations.RemoveIndex(model_name="message", name="message_subaccount_created_idx"),
        migrations.AlterField(
            model_name="message",
            name="bulk_send",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="messages",
                to="messaging.bulksend",
            ),
        ),
    ]
