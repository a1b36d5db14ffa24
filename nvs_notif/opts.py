"""Configuration options, registered on the conf each component is given."""
from oslo_config import cfg

from nvs_notif import credentials

GROUP = 'nvs'

PIPELINE_OPTS = [
    cfg.StrOpt('pipeline_cfg_file', default='nvs_pipeline.yaml',
               help='Pipeline definition of the nvs pipeline manager (sources '
                    'select event types, sinks name publishers such as '
                    'elasticsearch://, opensearch:// or sqlite://).'),
    cfg.ListOpt('redact_keys', default=[],
                help='Payload keys to mask in addition to the built-in secrets '
                     '(passwords, tokens, keys, admin_password, auth headers).'),
    cfg.IntOpt('reject_raw_limit', default=65536, min=256,
               help='Characters of an unreadable message kept with its reject reason.'),
    cfg.IntOpt('stats_interval', default=60, min=0,
               help='Seconds between the INFO log lines with the nvs endpoint\'s counters '
                    '(notifications, rejects, duplicates, spans, requeued) since the '
                    'previous line and since start, per agent worker; 0 disables them.'),
]

SPAN_OPTS = [
    cfg.FloatOpt('stuck_after', default=600.0, min=1,
                 help='Seconds an operation may stay open before it is reported as stuck.'),
    cfg.DictOpt('stuck_after_overrides',
                default={'compute.instance.create': 1800, 'instance.create': 1800,
                         'compute.instance.snapshot': 3600, 'instance.snapshot': 3600,
                         'image.upload': 3600, 'orchestration.stack': 3600},
                help='Per-operation stuck limits in seconds, by operation prefix '
                     '(the longest matching prefix wins).'),
]


SPOOL_OPTS = [
    cfg.StrOpt('spool_dir', default='/var/lib/ceilometer/nvs-spool',
               help='Directory of the local disk queues between the stock event/meter '
                    'pipelines and a remote store (elasticsearch://, opensearch://).'),
    cfg.FloatOpt('spool_flush_interval', default=1.0, min=0.05,
                 help='Seconds between sends of spooled documents: the longest a '
                      'document waits while the store is up.'),
    cfg.IntOpt('spool_flush_size', default=500, min=1,
               help='Documents per bulk send; this many waiting also trigger a send.'),
    cfg.IntOpt('spool_max_docs', default=1000000, min=1,
               help='Bound of each spool; past it the oldest documents are dropped, '
                    'counted and logged.'),
]

ALL_OPTS = PIPELINE_OPTS + SPAN_OPTS + SPOOL_OPTS

#: Options of the WebSub hub (nvs_notif/websub), in their own group.
WEBSUB_GROUP = 'websub'
WEBSUB_OPTS = [
    cfg.IntOpt('lease_seconds_default', default=86400, min=1,
               help='Lease of a subscription that asks for none (hub.lease_seconds).'),
    cfg.IntOpt('lease_seconds_min', default=300, min=1,
               help='Shortest lease granted; shorter requests get this one.'),
    cfg.IntOpt('lease_seconds_max', default=864000, min=1,
               help='Longest lease granted; longer requests get this one.'),
    cfg.IntOpt('max_subscriptions_per_topic', default=1000, min=1,
               help='Subscriptions one topic may have; past it a subscribe is denied '
                    '(hub.mode=denied to the callback).'),
    cfg.ListOpt('callback_allowed_networks', default=[],
                help='Networks (CIDR) callbacks may reach besides public addresses, '
                     'e.g. 10.20.0.0/16. The address a connection really reaches is '
                     'checked, at every call and redirect; loopback, private, '
                     'link-local (cloud metadata) and multicast addresses are refused '
                     'unless listed here.'),
    cfg.ListOpt('callback_allowed_hosts', default=[],
                help='Host names callbacks may reach whatever they resolve to; a '
                     'leading dot allows subdomains (.hooks.example.com).'),
    cfg.BoolOpt('callback_allow_public', default=True,
                help='Whether callbacks may reach globally routable addresses; false '
                     'keeps them to callback_allowed_networks/hosts.'),
    cfg.FloatOpt('connect_timeout', default=5.0, min=0.1,
                 help='Seconds to connect to a callback.'),
    cfg.FloatOpt('read_timeout', default=10.0, min=0.1,
                 help='Seconds a callback may take between bytes of its answer.'),
    cfg.IntOpt('max_response_bytes', default=65536, min=1024,
               help='Bytes of a callback\'s answer read; the rest is ignored.'),
    cfg.IntOpt('max_redirects', default=3, min=0,
               help='Redirects followed by a verification request (each hop checked '
                    'like the callback); deliveries follow none.'),
    cfg.FloatOpt('delivery_retry_initial', default=2.0, min=0.01,
                 help='Seconds before a failed delivery is tried again; doubles per '
                      'failure up to delivery_retry_max.'),
    cfg.FloatOpt('delivery_retry_max', default=300.0, min=0.01,
                 help='Longest wait between two attempts of a delivery.'),
    cfg.FloatOpt('delivery_retry_window', default=3600.0, min=0,
                 help='Seconds after its first failure a delivery is given up '
                      '(logged at ERROR, counted).'),
    cfg.IntOpt('delivery_workers', default=8, min=1,
               help='Threads per hub process that verify intents and send deliveries.'),
    cfg.IntOpt('tail_batch', default=2000, min=1,
               help='Notifications the hub reads from the store and publishes per round '
                    '(at most: a round reads what was stored since the last one). Keep it '
                    'above the notifications stored during one round, or the tail falls '
                    'behind and every entry waits longer.'),
    cfg.FloatOpt('tail_settle_seconds', default=1.0, min=0,
                 help='Elasticsearch/OpenSearch stores: seconds between when an agent '
                      'sends a notification (its ingest stamp) and when the hub reads '
                      'it, the longest a bulk request may take to become searchable '
                      '(agents stamp each request as they send it, a retried one '
                      'again). A write that takes longer (an overloaded cluster, '
                      'clocks of agents and hub hosts further apart) is stored and '
                      'in the feeds but not pushed. SQLite ignores it.'),
    cfg.FloatOpt('poll_interval', default=0.2, min=0.01,
                 help='Seconds a hub process waits after a round that found no work '
                      '(verifications, deliveries, new notifications).'),
]

_WEBSUB_DEFAULTS = {opt.name: opt.default for opt in WEBSUB_OPTS}


def websub_default(name):
    """The default of ``[websub] name``, declared once in :data:`WEBSUB_OPTS`:
    the hub's settings (``websub.hub.Settings``, ``outbound.Policy``,
    ``subscriptions.Limits``, ``feeds.tail.Settings``) take theirs from it."""
    return _WEBSUB_DEFAULTS[name]


#: Options of the ``nvs-notif`` command only (its own config file).
CLI_GROUP = 'cli'
CLI_OPTS = [
    cfg.StrOpt('store', secret=True,
               help='Store URL the nvs-notif command uses when neither --store nor '
                    'NVS_NOTIF_STORE is given (sqlite:///path or '
                    'elasticsearch://host:9200/?index_prefix=nvs); its credentials '
                    'go in [nvs_store_default] (or the group its ?credentials= '
                    'names). Secret: a deprecated URL may still hold a password.'),
]

#: Options of ``nvs-notif-api`` (its nvs-notif.conf, see nvs_notif/api/config.py).
API_GROUP = 'api'
API_OPTS = [
    cfg.StrOpt('store', secret=True,
               help='Store URL the API answers from (sqlite:///path, '
                    'elasticsearch://host:9200/?index_prefix=nvs or opensearch://...); '
                    'its credentials go in [nvs_store_default] (or the group its '
                    '?credentials= names), the stuck limits in [nvs]. Required.'),
    cfg.IntOpt('default_limit', default=100, min=1,
               help='Items per page when a request gives no limit.'),
    cfg.IntOpt('max_limit', default=1000, min=1,
               help='The largest limit a request may ask for; a larger one is '
                    'refused (400).'),
    cfg.FloatOpt('archive_settle_seconds', default=3600.0, min=0,
                 help='Seconds after which no span is expected to finish at an '
                      'earlier time (notifications late by an agent or store '
                      'outage): RFC 5005 archive pages of the spans feeds hold '
                      'only spans finished longer ago, so a page never changes.'),
]


def register(conf):
    conf.register_opts(ALL_OPTS, group=GROUP)


def list_opts():
    """For oslo-config-generator (entry point ``oslo.config.opts: nvs_notif``)."""
    # keystoneauth1 is for the API and the hub only, not the agent's imports.
    from nvs_notif.websub import keystone
    return ([(GROUP, ALL_OPTS), (CLI_GROUP, CLI_OPTS), (API_GROUP, API_OPTS),
             (WEBSUB_GROUP, WEBSUB_OPTS)] + credentials.list_opts() + keystone.list_opts())
