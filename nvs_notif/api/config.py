"""The API's configuration: the operator's one ``nvs-notif.conf``.

The same file the ``nvs-notif`` command reads: ``[api]`` (the store URL and
page sizes), ``[nvs]`` (stuck limits), the store's credentials
(``[nvs_store_default]``, :mod:`nvs_notif.credentials`), the hub's Keystone
credentials (``[keystone]``, :mod:`nvs_notif.websub.keystone`); the middleware
registers and reads its own groups (``[keystone_authtoken]``, ``[cors]``,
``[oslo_middleware]``, ``[healthcheck]``, ``[oslo_policy]``).
"""
import os

from oslo_config import cfg
from oslo_log import log

from nvs_notif import opts
from nvs_notif.websub import keystone

#: ``;``-separated config files the WSGI entry point reads instead of the
#: nvs-notif.conf oslo.config finds (a WSGI server passes no command line).
FILES_ENV = 'NVS_NOTIF_API_CONFIG_FILES'
PROG = 'nvs-notif-api'


def config_files(environ=os.environ):
    """The files of :data:`FILES_ENV`, else ``nvs-notif.conf`` and then
    ``nvs-notif-api.conf`` (what devstack writes) where oslo.config looks for
    them (``~/.nvs-notif/``, ``~/``, ``/etc/nvs-notif/``, ``/etc/``)."""
    given = [f for f in environ.get(FILES_ENV, '').split(';') if f]
    return given or cfg.find_config_files(project='nvs-notif', prog=PROG)


#: The search clients log every request at INFO: dozens a second from a hub
#: or a busy API. Warnings and errors still show; ``default_log_levels``
#: overrides.
QUIET_LIBRARIES = ['elastic_transport=WARN', 'opensearch=WARN']


def load_conf(files, argv=(), prog=PROG):
    """A new ConfigOpts with the API's options, read from ``files`` (and the
    ``--config-file`` options of ``argv``, a command's arguments)."""
    conf = cfg.ConfigOpts()
    opts.register(conf)
    conf.register_opts(opts.API_OPTS, group=opts.API_GROUP)
    keystone.register_opts(conf)
    conf.register_opts(opts.WEBSUB_OPTS, group=opts.WEBSUB_GROUP)
    log.register_options(conf)
    log.set_defaults(default_log_levels=log.get_default_log_levels() + QUIET_LIBRARIES)
    conf(list(argv), project='nvs-notif', prog=prog, default_config_files=list(files),
         default_config_dirs=[])
    return conf
