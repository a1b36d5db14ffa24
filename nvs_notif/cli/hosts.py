"""``nvs-notif hosts``: how much each host and service says, how much is errors, who went quiet."""
from cliff import lister

from nvs_notif.answers import hosts as hosts_answer
from nvs_notif.cli import common
from nvs_notif import timeutil


class Hosts(common.Command, lister.Lister):
    """Per host and service: notifications, rate, last seen, errors, and silence.

    Counts the notifications timed between ``--since`` (default one hour
    before ``--now``) and ``--now`` (default the current time).  ``per
    minute`` is over the whole window; ``errors`` are notifications of
    priority error or critical and ``error %`` their share of the row.
    ``silent`` is ``yes`` when that service on that host spoke in the window
    but not in the last ``--silent-after`` (default 10m): a process that is
    alive but hung, or a host that is down.  A host silent for the whole
    window has no row; widen ``--since`` to see it.  Ages (``--since 30m``)
    count back from ``--now``.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--since', metavar='TIME', type=common.time_arg,
                            help='ISO time or age before --now (30m, 2h, 7d); default 1h')
        common.add_now(parser, 'the window ends and silence is judged')
        parser.add_argument('--silent-after', metavar='DURATION',
                            default=hosts_answer.SILENT_AFTER,
                            type=common.duration,
                            help='a host/service not seen for this long before --now is '
                                 'silent (90s, 10m, 1h; default %(default)s)')
        return common.check(parser, _since_before_now)

    def take_action(self, args):
        now = common.now(args)
        since = _since(args, now)
        rows = hosts_answer.rows(self.app.store.host_activity(since, now), now, since,
                                 args.silent_after)
        return hosts_answer.COLUMNS, common.explain_if_empty(
            self.app, rows, 'no notifications %s' % common.between(since, now))


def _since(args, now):
    return common.at(args.since, now) or now - hosts_answer.WINDOW


def _since_before_now(args):
    now = common.now(args)
    since = _since(args, now)
    if since > now:
        return '--since (%s) is after --now (%s)' % (timeutil.iso(since), timeutil.iso(now))
    return None
