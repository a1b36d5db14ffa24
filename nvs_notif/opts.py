"""Configuration options, registered on the conf each component is given."""
from oslo_config import cfg

GROUP = 'nvs'

PIPELINE_OPTS = [
    cfg.StrOpt('pipeline_cfg_file', default='nvs_pipeline.yaml',
               help='Pipeline definition of the nvs pipeline manager (sources '
                    'select event types, sinks name publishers such as '
                    'elasticsearch:// or sqlite://).'),
    cfg.ListOpt('redact_keys', default=[],
                help='Payload keys to mask in addition to the built-in secrets '
                     '(passwords, tokens, keys, admin_password, auth headers).'),
    cfg.IntOpt('reject_raw_limit', default=65536, min=256,
               help='Characters of an unreadable message kept with its reject reason.'),
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


def register(conf):
    conf.register_opts(PIPELINE_OPTS + SPAN_OPTS, group=GROUP)


def list_opts():
    """For oslo-config-generator (entry point ``oslo.config.opts: nvs_notif``)."""
    return [(GROUP, PIPELINE_OPTS + SPAN_OPTS)]
