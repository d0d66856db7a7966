"""Push notifications: channels, signed webhooks and the durable outbox relay.

Public interface::

    from calsync.notify.relay import OutboxRelay
    relay = OutboxRelay(store, settings)          # http_client_factory optional
    relay.run_once() -> int                       # deliveries that succeeded
    relay.run_forever(stop_event)                 # the daemon's loop (a thread)

    from calsync.notify.channels import enqueue_profile_event
    enqueue_profile_event(uow, account, profile, "profile_disconnected")

    from calsync.notify.status import ChannelCollector, channel_statuses

Modules: `ssrf` (callback URL checks), `signing` (both signature schemes),
`schedule` (retries), `payloads` (bodies), `filters`, `http` (pinned POST),
`relay`, `channels` (create/list/close), `status` (API/metrics view).
"""
