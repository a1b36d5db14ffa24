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


def register(conf):
    conf.register_opts(ALL_OPTS, group=GROUP)


def list_opts():
    """For oslo-config-generator (entry point ``oslo.config.opts: nvs_notif``)."""
    return [(GROUP, ALL_OPTS), (CLI_GROUP, CLI_OPTS)] + credentials.list_opts()
