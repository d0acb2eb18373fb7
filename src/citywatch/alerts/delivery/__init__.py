"""Alert delivery: a durable outbox written with each alert, sinks (MQTT, signed webhooks)
and the dispatcher thread that retries with backoff and dead-letters what never arrives."""
