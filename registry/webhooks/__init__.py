"""Signed webhooks: the URLs users register for events on their items (`subscriptions`), a task's own `webhook`
(`task_hooks`), the outbox of deliveries and their log (`outbox`), what each event says (`events`, `payloads`),
signing as the Standard Webhooks spec (`signing`) and where a webhook may go (`addresses`). The sender that works
through the outbox is services/webhook_delivery.py."""
