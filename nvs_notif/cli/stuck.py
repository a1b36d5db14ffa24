"""``nvs-notif stuck``: requests still open past their limit."""
import datetime

from cliff import lister
from oslo_config import cfg

from nvs_notif import opts
from nvs_notif import queries
from nvs_notif import storage


def stuck_settings(config_files=()):
    """``(stuck_after, stuck_after_overrides)`` of the ``[nvs]`` options.

    :param config_files: config files to read (the agent's); none gives the defaults
    """
    conf = cfg.ConfigOpts()
    opts.register(conf)
    conf([], project='nvs-notif', default_config_files=list(config_files))
    return conf[opts.GROUP].stuck_after, dict(conf[opts.GROUP].stuck_after_overrides)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def time_arg(value, now=None):
    """An argparse-friendly ISO or relative (``2h``, ``7d``) time."""
    try:
        return queries.parse_time(value, now or utcnow())
    except ValueError:
        raise ValueError('not an ISO time nor an age like 2h or 7d: %r' % value)


def add_window(parser):
    parser.add_argument('--since', metavar='TIME',
                        help='ISO time or age (30m, 2h, 7d) to start from')
    parser.add_argument('--until', metavar='TIME',
                        help='ISO time or age (30m, 2h, 7d) to stop at')


def window(args):
    return time_arg(args.since), time_arg(args.until)


def add_config(parser):
    parser.add_argument('--config-file', action='append', default=[], metavar='PATH',
                        help='read [nvs] stuck_after/stuck_after_overrides from this '
                             'file (the agent\'s); default: the built-in limits')


class Stuck(lister.Lister):
    """List requests still open past their per-operation stuck limit.

    A span counts as stuck when it has a start, no end or failure, and has
    been open longer than ``[nvs] stuck_after`` (or the longest matching
    ``stuck_after_overrides`` prefix).  ``--now`` sets the clock, for
    replayed or old data.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--now', metavar='TIME',
                            help='ISO time to judge against (default: the current time)')
        parser.add_argument('--operation', metavar='PREFIX',
                            help='only operations starting with PREFIX')
        add_config(parser)
        return parser

    def take_action(self, args):
        now = time_arg(args.now) if args.now else utcnow()
        stuck_after, overrides = stuck_settings(args.config_file)
        store = storage.get_store(self.app_args.store)
        try:
            spans = store.spans(operation=args.operation)
        finally:
            store.close()
        return queries.STUCK_COLUMNS, queries.stuck(spans, now, stuck_after, overrides)
