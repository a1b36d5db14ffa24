"""The read-side answers: named rows, and the Python aggregation each store's
own query must equal (the fallback of :class:`nvs_notif.storage.base.Store`,
and the benchmark's comparison path).  One module per answer."""
