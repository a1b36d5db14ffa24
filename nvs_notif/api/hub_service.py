"""``nvs-notif-hub``: the process that does the hub's work the API only
records: verifies intents at callbacks, ends leases, sends deliveries with
their retries (:meth:`nvs_notif.websub.hub.Hub.run`), and publishes what the
agents store (:class:`nvs_notif.feeds.tail.Tail`).

It reads the API's configuration (``[api] store``, ``[websub]``) and keeps
nothing itself: every state is in the store, each piece of work claimed
there, so any number may run (on the API hosts, beside them), and one may
stop or restart at any time.  SIGTERM and SIGINT stop it after the round in
progress.
"""
import signal
import sys
import threading

from oslo_log import log

from nvs_notif.api import config
from nvs_notif import credentials
from nvs_notif.api import hub as api_hub
from nvs_notif.feeds import tail as tail_mod
from nvs_notif import opts
from nvs_notif import storage
from nvs_notif.websub import keystone

LOG = log.getLogger(__name__)
PROG = 'nvs-notif-hub'


class HubService:
    """The hub's rounds and the store's tail, each on a thread of its own."""

    def __init__(self, conf, store=None):
        if store is None:
            if not conf[opts.API_GROUP].store:
                raise ValueError('[%s] store is not set' % opts.API_GROUP)
            store = storage.get_store(conf[opts.API_GROUP].store, conf)
        self.store = store
        self.hub = api_hub.make_hub(conf, store)
        # Asked whether a project Keystone updated is still enabled (None
        # without [keystone] credentials: nothing is ended on an update).
        self.tail = tail_mod.Tail(store, self.hub, tail_mod.Settings.from_conf(conf.websub),
                                  keystone.ProjectCheck.from_conf(conf))
        self.interval = conf.websub.poll_interval
        self.stop_event = threading.Event()
        self._threads = []

    def start(self):
        for name, loop in (('websub-hub', self.hub.run), ('websub-tail', self.tail.run)):
            thread = threading.Thread(target=loop, args=(self.stop_event, self.interval),
                                      name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self):
        """Stop after the rounds in progress; release the stores."""
        self.stop_event.set()
        for thread in self._threads:
            thread.join()
        self.hub.close()
        self.hub.store.close()
        self.store.close()
        LOG.info('WebSub hub stopped: %s, tail %s', dict(self.hub.stats), dict(self.tail.stats))


def main(argv=None):
    conf = config.load_conf(config.config_files(), sys.argv[1:] if argv is None else argv,
                            prog=PROG)
    log.setup(conf, PROG)
    service = HubService(conf)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    service.start()
    LOG.info('WebSub hub running on %s', credentials.public(conf[opts.API_GROUP].store))
    stopped.wait()
    service.stop()
