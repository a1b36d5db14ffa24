"""A WebSub hub (W3C Recommendation, 2018): subscription requests, intent
verification, content distribution with signatures and retries, and the
safety of every outbound call.

:mod:`.subscriptions` validates requests and holds the records (pure),
:mod:`.outbound` makes the HTTP calls to callbacks (allow-list, bounds),
:mod:`.store` keeps subscriptions and pending work where every API process
sees them, :mod:`.hub` runs verification and distribution.
"""
