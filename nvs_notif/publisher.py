"""Ceilometer publishers over the stores: ``elasticsearch://...`` and ``sqlite:///...``.

The publisher URL is the store URL.  The nvs pipeline hands whole batches to
:meth:`StorePublisher.write` and requeues them when it raises.  The stock
event and meter pipelines call ``publish_events``/``publish_samples``, which
write through synchronously; whether a failure there requeues is ceilometer's
policy (``[notification] ack_on_event_error``), not ours.
"""
from ceilometer import publisher
from ceilometer.publisher import utils

from nvs_notif import redact
from nvs_notif import storage


def event_doc(event):
    """A ceilometer Event as a store document: traits as a name -> value map."""
    doc = event.serialize()
    doc['traits'] = {name: value for name, _dtype, value in doc['traits']}
    return redact.redact(doc)


class StorePublisher(publisher.ConfigPublisherBase):
    """Publishes into the nvs-notif store named by the publisher URL."""

    def __init__(self, conf, parsed_url):
        super().__init__(conf, parsed_url)
        self.store = storage.get_store(parsed_url)

    def write(self, batch):
        """Store an nvs batch; returns the store's :class:`~nvs_notif.storage.WriteResult`."""
        return self.store.write(batch)

    def publish_events(self, events):
        self.store.write_events([event_doc(e) for e in events])

    def publish_samples(self, samples):
        secret = self.conf.publisher.telemetry_secret
        self.store.write_samples([redact.redact(utils.meter_message_from_counter(s, secret))
                                  for s in samples])
