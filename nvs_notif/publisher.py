"""Ceilometer publishers over the stores: ``elasticsearch://...``, ``opensearch://...`` and ``sqlite:///...``.

The publisher URL is the store URL.  The nvs pipeline hands whole batches to
:meth:`StorePublisher.write` and requeues them when it raises.  The stock
event and meter pipelines call ``publish_events``/``publish_samples`` once per
event; for a remote store (Elasticsearch) those go through a local
:class:`~nvs_notif.spool.Spool`, so the notification is acknowledged once its
document is on local disk and reaches the store within
``[nvs] spool_flush_interval`` seconds while the store is up.  A local store
(SQLite) is written through.
"""
import hashlib
import os
import threading

from ceilometer import publisher
from ceilometer.publisher import utils

from nvs_notif import opts
from nvs_notif import redact
from nvs_notif import spool as spool_mod
from nvs_notif import storage


def event_doc(event, redact_keys=()):
    """A ceilometer Event as a store document: traits as a name -> value map,
    redacted (``redact_keys``: the operator's ``[nvs] redact_keys``)."""
    doc = event.serialize()
    doc['traits'] = {name: value for name, _dtype, value in doc['traits']}
    return redact.redact(doc, redact_keys)


class StorePublisher(publisher.ConfigPublisherBase):
    """Publishes into the nvs-notif store named by the publisher URL."""

    def __init__(self, conf, parsed_url):
        super().__init__(conf, parsed_url)
        opts.register(conf)
        self.store = storage.get_store(parsed_url, conf)
        self._url = parsed_url
        self._spool = None
        self._spool_lock = threading.Lock()

    def write(self, batch):
        """Store an nvs batch; returns the store's :class:`~nvs_notif.storage.WriteResult`."""
        return self.store.write(batch)

    def publish_events(self, events):
        keys = self.conf[opts.GROUP].redact_keys
        self._hand_off('events', [event_doc(e, keys) for e in events])

    def publish_samples(self, samples):
        secret = self.conf.publisher.telemetry_secret
        keys = self.conf[opts.GROUP].redact_keys
        self._hand_off('samples', [redact.redact(utils.meter_message_from_counter(s, secret),
                                                 keys)
                                   for s in samples])

    def _hand_off(self, kind, docs):
        if not self.store.remote:
            self._store_docs(kind, docs)
            return
        with self._spool_lock:
            if self._spool is None:
                self._spool = self._open_spool()
        self._spool.put(kind, docs)

    def _store_docs(self, kind, docs):
        getattr(self.store, 'write_' + kind)(docs)

    def _open_spool(self):
        nvs = self.conf[opts.GROUP]
        # One file per store (the URL without credentials), shared by the workers.
        where = '%s://%s%s?%s' % (self._url.scheme, self._url.hostname, self._url.path,
                                  self._url.query)
        name = hashlib.sha1(where.encode()).hexdigest()[:16] + '.db'
        return spool_mod.Spool(os.path.join(nvs.spool_dir, name), self._store_docs,
                               flush_interval=nvs.spool_flush_interval,
                               flush_size=nvs.spool_flush_size, max_docs=nvs.spool_max_docs)
