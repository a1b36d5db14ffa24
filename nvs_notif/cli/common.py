"""What several ``nvs-notif`` commands share: their common options (each defined once
here), the argument types that check what an operator typed, and the configuration.

Arguments are checked while parsing, so a bad value is an argparse usage error (exit
status 2, the usage line, the argument named) before any store is opened; argument
combinations argparse cannot express are checked by :func:`check`."""
import argparse
import dataclasses
import itertools

from nvs_notif import timeutil

# oslo.config (with nvs_notif.opts and nvs_notif.spans, which need it) is
# imported by the functions below, when a command reads its configuration:
# a fifth of a second that --help and "help <command>" never need.


class Command:
    """What every nvs-notif command is, besides its cliff base class (mixed in first).

    cliff's epilog names the distribution of a command another package
    provides, looking it up in every installed distribution's metadata
    (``importlib.metadata.packages_distributions``: most of a second, before
    any command runs, help or not); every ``nvs_notif.cli`` command is ours,
    so the epilog is the command's own and its hooks'.
    """

    def get_epilog(self):
        hooks = (h.obj.get_epilog() for h in self._hooks if h.obj is not None)
        return '\n\n'.join([self._epilog or ''] + [e for e in hooks if e is not None])


def config_files(given=()):
    """``given``, or else ``nvs-notif.conf`` where oslo.config looks for it
    (``~/.nvs-notif/``, ``~/``, ``/etc/nvs-notif/``, ``/etc/``), if anywhere."""
    from oslo_config import cfg
    return list(given) or cfg.find_config_files(project='nvs-notif', prog='nvs-notif')


def load_conf(files=()):
    """The ``[nvs]`` and ``[cli]`` options of ``files`` (no file at all gives
    the defaults); the stores' credential groups are registered when a store
    is opened (:mod:`nvs_notif.credentials`)."""
    from oslo_config import cfg
    from nvs_notif import opts
    conf = cfg.ConfigOpts()
    opts.register(conf)
    conf.register_opts(opts.CLI_OPTS, group=opts.CLI_GROUP)
    conf([], project='nvs-notif', default_config_files=list(files), default_config_dirs=[])
    return conf


# -- argument types ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TimeArg:
    """A time as typed: ISO 8601, or an age (``30m``, ``2h``, ``7d``) counted back from a
    "now" that the command decides (the current time, ``--now``, the store's newest)."""
    text: str

    def at(self, now):
        """The aware datetime this argument means when it is ``now``."""
        return timeutil.parse_time(self.text, now)


def time_arg(value):
    """argparse type of a time or an age: a :class:`TimeArg`."""
    try:
        timeutil.parse_time(value, timeutil.utcnow())
    except ValueError:
        raise argparse.ArgumentTypeError(
            'not an ISO time nor an age like 2h or 7d: %r' % value)
    return TimeArg(value)


def at(arg, now):
    """``arg`` (a :class:`TimeArg` or None) as a datetime when it is ``now``."""
    return arg.at(now) if arg is not None else None


def positive_int(value):
    """argparse type of a count: an integer > 0."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError('not a whole number above 0: %r' % value)
    return number


def positive_seconds(value):
    """argparse type of a number of seconds > 0."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float('inf'):
        raise argparse.ArgumentTypeError('not a number of seconds above 0: %r' % value)
    return seconds


def duration(value):
    """argparse type of a duration (``90``, ``90s``, ``10m``, ``2h``, ``1d``) in seconds."""
    try:
        return timeutil.parse_duration(value)
    except ValueError:
        raise argparse.ArgumentTypeError('not a duration like 90s, 10m or 2h: %r' % value)


# -- options several commands take --------------------------------------------------------

def add_window(parser):
    """``--since`` / ``--until`` (:class:`TimeArg`); read with :func:`window`."""
    parser.add_argument('--since', metavar='TIME', type=time_arg,
                        help='ISO time or age (30m, 2h, 7d) to start from')
    parser.add_argument('--until', metavar='TIME', type=time_arg,
                        help='ISO time or age (30m, 2h, 7d) to stop at')


def window(args, now=None):
    """``(since, until)`` of :func:`add_window`'s options, ages counted from ``now``."""
    now = now or timeutil.utcnow()
    return at(args.since, now), at(args.until, now)


def add_now(parser, judged, default='the current time'):
    """``--now``: the time ``judged`` happens at; read with :func:`now`."""
    parser.add_argument('--now', metavar='TIME', type=time_arg,
                        help='ISO time %s at (default: %s)' % (judged, default))


def now(args, default=None):
    """``--now`` as a datetime; else ``default``, else the current time."""
    current = timeutil.utcnow()
    if args.now is not None:
        return args.now.at(current)
    return default if default is not None else current


def add_operation(parser):
    parser.add_argument('--operation', metavar='PREFIX',
                        help='only operations starting with PREFIX')


def check(parser, rule):
    """Apply ``rule(args)`` after parsing: a message it returns is a usage error (exit
    status 2), as argparse reports its own rules. For what a type, ``choices`` or a
    mutually exclusive group cannot say."""
    parse_known_args = parser.parse_known_args

    def parse(args=None, namespace=None):
        parsed, extras = parse_known_args(args, namespace)
        message = rule(parsed)
        if message:
            parser.error(message)
        return parsed, extras

    parser.parse_known_args = parse
    return parser


def require_one_of(parser, dests, message):
    """At least one of the arguments ``dests`` must be given, else ``message``."""
    return check(parser, lambda args: None if any(getattr(args, d, None) for d in dests)
                 else message)


# -- empty answers -------------------------------------------------------------------------

def between(since, until):
    """A window as operators read it in a message."""
    if since and until:
        return 'between %s and %s' % (timeutil.iso(since), timeutil.iso(until))
    if since or until:
        return '%s %s' % ('since' if since else 'until', timeutil.iso(since or until))
    return 'at any time'


def explain_if_empty(app, rows, nothing):
    """Return ``rows`` (a list, or an iterator that stays one: only its first row is
    read here); when there are none, say why on stderr: ``nothing`` (what was asked and
    found missing), and the newest notification the store holds, if any, so an operator
    sees at once whether the window or the store is the reason."""
    if not isinstance(rows, list):
        rows = iter(rows)
        first = next(rows, None)        # rows are tuples, never None
        if first is not None:
            return itertools.chain((first,), rows)
        rows = []
    if rows:
        return rows
    newest = next(iter(app.store.notifications(limit=1)), None)
    if newest is None:
        reason = 'the store holds no notifications'
    else:
        reason = 'the newest notification in the store is of %s' % newest.get('timestamp')
    app.stderr.write('%s; %s\n' % (nothing, reason))
    return rows
