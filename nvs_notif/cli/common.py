"""What several ``nvs-notif`` commands share: time arguments and stuck limits."""
import datetime

from oslo_config import cfg

from nvs_notif import opts
from nvs_notif import queries


def config_files(given=()):
    """``given``, or else ``nvs-notif.conf`` where oslo.config looks for it
    (``~/.nvs-notif/``, ``~/``, ``/etc/nvs-notif/``, ``/etc/``), if anywhere."""
    return list(given) or cfg.find_config_files(project='nvs-notif', prog='nvs-notif')


def load_conf(files=()):
    """The ``[nvs]`` and ``[cli]`` options of ``files`` (no file at all gives
    the defaults); the stores' credential groups are registered when a store
    is opened (:mod:`nvs_notif.credentials`)."""
    conf = cfg.ConfigOpts()
    opts.register(conf)
    conf.register_opts(opts.CLI_OPTS, group=opts.CLI_GROUP)
    conf([], project='nvs-notif', default_config_files=list(files), default_config_dirs=[])
    return conf


def stuck_settings(conf):
    """``(stuck_after, stuck_after_overrides)`` of the ``[nvs]`` options of ``conf``."""
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


def now(args):
    """``--now`` as a time, or the current time when it is not given."""
    return time_arg(args.now) if args.now else utcnow()
