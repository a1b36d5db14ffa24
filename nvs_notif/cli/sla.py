"""``nvs-notif sla``: service levels per operation, and where time goes."""
from cliff import lister

from nvs_notif.answers import sla
from nvs_notif.cli import common


class Sla(common.Command, lister.Lister):
    """Service levels per operation: count, success rate, failures, durations, attempts.

    ``success %`` is successful spans over all spans; durations (seconds,
    nearest-rank percentiles) are of spans with a start and an end or
    failure; ``failures`` are the top three exceptions (``Exc:n``);
    ``reschedules`` counts spans with several attempts that ran on several
    hosts (one attempt ending on another host, a resize revert, is none).
    ``--since``/``--until`` select spans by start time.

    With ``--breakdown OPERATION`` it lists instead, for the requests of
    OPERATION, each other operation of those requests (and of the requests
    they made on other services): in how many requests it ran, its total
    time and that time as a share of the OPERATION spans' total (of the
    requests whose OPERATION span finished: still open ones are left out).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.add_operation(parser)
        table = parser.add_mutually_exclusive_group()
        table.add_argument('--group-by', choices=sorted(sla.GROUPS),
                           help='one row per operation and host, service, project, '
                                'availability zone or flavor (- when unknown)')
        table.add_argument('--breakdown', metavar='OPERATION',
                           help='share of time per sub-operation of OPERATION requests '
                                '(--operation does not apply)')
        common.add_window(parser)
        return parser

    def take_action(self, args):
        since, until = common.window(args)
        store = self.app.store
        if args.breakdown:
            rows = store.breakdown(args.breakdown, since, until)
            return sla.BREAKDOWN_COLUMNS, common.explain_if_empty(
                self.app, rows, 'no finished %s span started %s' % (
                    args.breakdown, common.between(since, until)))
        rows = store.sla(args.group_by, args.operation, since, until)
        return sla.COLUMNS, common.explain_if_empty(
            self.app, rows, 'no %sspan started %s' % (
                args.operation + '* ' if args.operation else '', common.between(since, until)))
