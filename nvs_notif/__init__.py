"""nvs-notif: OpenStack notifications into request spans, events and meters."""
