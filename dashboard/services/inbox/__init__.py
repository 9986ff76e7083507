"""The Stripe event inbox, by job: `store` (store each verified event once, claim it,
process it, retry it), `matching` (find and lock the event's order), `reconcile` (apply one
claimed event: mode, dispatch, timeline), `handlers/` (one module per Stripe object,
registered with the event types it takes), `group_commit` (webhook deliveries sharing a
transaction), `sync` (Stripe's event list read into the inbox), `health` (what the event
log shows about deliveries)."""
