"""``nvs-notif-api``: the store's answers over HTTP, per Keystone project."""
