"""The WSGI entry point: ``nvs_notif.api.wsgi:application`` for gunicorn or
uWSGI. Reads nvs-notif.conf (or the files of ``NVS_NOTIF_API_CONFIG_FILES``);
see docs/operations.rst."""
from oslo_log import log

from nvs_notif.api import app
from nvs_notif.api import config


def init_application():
    conf = config.load_conf(config.config_files())
    log.setup(conf, config.PROG)
    return app.make_app(conf)


application = init_application()
