"""The ``nvs-notif`` command: cliff app whose commands load from ``nvs_notif.cli``."""
import importlib.metadata
import logging
import os
import sys
import warnings

from cliff import app
from cliff import commandmanager
import stevedore
from stevedore import extension

from nvs_notif.cli import common

#: The HTTP clients' loggers: one INFO line per request (a replay into
#: Elasticsearch printed ~2,000 of them). Shown from ``-vv`` (debug) on.
_REQUEST_LOGGERS = ('elastic_transport', 'opensearch', 'urllib3')

DEFAULT_STORE = 'sqlite:///' + os.path.join(
    os.environ.get('XDG_DATA_HOME', os.path.expanduser('~/.local/share')), 'nvs-notif', 'nvs.db')


class _EntryPoints(stevedore.ExtensionManager):
    """The entry points of a namespace, from stevedore's cache, none imported."""

    def _load_one_plugin(self, ep, invoke_on_load, invoke_args, invoke_kwds):
        return extension.Extension(ep.name, ep, None, None)


class CommandManager(commandmanager.CommandManager):
    """cliff's command manager, importing only the command that runs.

    cliff keeps entry points and loads the one :meth:`find_command` finds, but
    lists them with a stevedore manager that imports every command's module
    (what ``replay`` needs loads the simulator, ``kibana-import`` an HTTP
    client...): half a second before any command.  Our command names have no
    underscores and no module is ignored, so listing is all there is.
    """

    def load_commands(self, namespace):
        self.group_list.append(namespace)
        for ext in _EntryPoints(namespace):
            self.commands[ext.name] = ext.entry_point


class NvsNotifApp(app.App):

    def __init__(self):
        super().__init__(description='Query and feed the nvs-notif notification store.',
                         version=importlib.metadata.version('nvs-notif'),
                         command_manager=CommandManager('nvs_notif.cli'),
                         deferred_help=True)

    _store = None
    _conf = None

    def configure_logging(self):
        super().configure_logging()
        if self.options.verbose_level < 2:
            for name in _REQUEST_LOGGERS:
                logging.getLogger(name).setLevel(logging.WARNING)

    @property
    def config_files(self):
        """``--config-file`` (or the nvs-notif.conf found)."""
        return common.config_files(self.options.config_file)

    @property
    def conf(self):
        """The options of :attr:`config_files`."""
        if self._conf is None:
            self._conf = common.load_conf(self.config_files)
        return self._conf

    @property
    def store_url(self):
        """``--store``, else NVS_NOTIF_STORE, else ``[cli] store``, else the embedded file."""
        return self.options.store or self.conf.cli.store or DEFAULT_STORE

    @property
    def store(self):
        """The store of :attr:`store_url`, opened on first use, closed by clean_up."""
        if self._store is None:
            # Imported here: --help and the commands that open no store never load it.
            from nvs_notif import storage
            self._store = storage.get_store(self.store_url, self.conf)
        return self._store

    def local_endpoint(self):
        """An nvs endpoint into :attr:`store_url`, configured by :attr:`config_files`
        (stuck limits, the store's credentials) as the agent would be."""
        # Imported here: it loads ceilometer, which the query commands do not need.
        from nvs_notif import replay
        return replay.local_endpoint(self.store_url, replay.make_conf(self.config_files))

    def clean_up(self, cmd, result, err):
        if self._store is not None:
            self._store.close()
            self._store = None

    def build_option_parser(self, description, version, argparse_kwargs=None):
        parser = super().build_option_parser(description, version, argparse_kwargs)
        parser.add_argument('--store', default=os.environ.get('NVS_NOTIF_STORE'),
                            help='Store URL: sqlite:///path, elasticsearch://host:9200 or opensearch://host:9200 '
                                 '(env NVS_NOTIF_STORE, else [cli] store of the config '
                                 'file; default %s)' % DEFAULT_STORE)
        parser.add_argument('--config-file', action='append', default=[], metavar='PATH',
                            help='config file, repeatable: [cli] store, the store\'s '
                                 'credentials ([nvs_store_default] or the group its '
                                 '?credentials= names), and [nvs] '
                                 'stuck_after/stuck_after_overrides (the agent\'s '
                                 'ceilometer.conf holds those); default: nvs-notif.conf '
                                 'in ~/.nvs-notif, ~, /etc/nvs-notif or /etc')
        return parser


def main(argv=None):
    # ceilometer imports oslo.service's eventlet backend; its deprecation
    # warning says nothing to an operator running a command.
    warnings.filterwarnings('ignore', message=r'(?s)\s*eventlet')
    return NvsNotifApp().run(sys.argv[1:] if argv is None else argv)


if __name__ == '__main__':
    sys.exit(main())
