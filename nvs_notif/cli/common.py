"""What several ``nvs-notif`` commands share: time arguments and stuck limits."""
import datetime

from oslo_config import cfg

from nvs_notif import opts
from nvs_notif import queries


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


def now(args):
    """``--now`` as a time, or the current time when it is not given."""
    return time_arg(args.now) if args.now else utcnow()
