"""``nvs-notif report``: the operator's first look at a store."""
from cliff import columns
from cliff import show
import prettytable

from nvs_notif.answers import errors as errors_answer
from nvs_notif.answers import sla
from nvs_notif.answers import stuck
from nvs_notif.answers import trace as trace_answer
from nvs_notif.cli import common
from nvs_notif import timeutil

#: The columns of ``sla`` the report keeps.
_SLA_COLUMNS = ('operation', 'count', 'success %', 'failures', 'avg (s)', 'p95 (s)',
                'max (s)', 'mean attempts', 'reschedules')
_SLA_FIELDS = [sla.SlaRow._fields[sla.COLUMNS.index(c)] for c in _SLA_COLUMNS]


class _Table(columns.FormattableColumn):
    """A section of the report: a table for people, a list of objects for machines."""

    def __init__(self, names, rows):
        super().__init__(rows)
        self.names = names

    def human_readable(self):
        if not self._value:
            return '-'
        table = prettytable.PrettyTable(self.names)
        table.align = 'l'
        for row in self._value:
            table.add_row(['-' if v is None else v for v in row])
        return table.get_string()

    def machine_readable(self):
        return [dict(zip(self.names, row)) for row in self._value]


class Report(common.Command, show.ShowOne):
    """Service levels, the top errors, stuck requests and one sample trace.

    The sections are the answers of ``sla`` (a few columns), ``errors --top``,
    ``stuck`` and ``trace``. "Now" is ``--now`` or else the newest time in the
    store, so a replayed or old store reads as it did when it was live. The
    sample trace is the request whose operation took the most attempts (a
    reschedule when there is one). Every output format works: ``-f json``
    gives each section as a list of objects.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.add_now(parser, 'stuck requests and outcomes are judged',
                       default='the newest time in the store')
        parser.add_argument('--operation', metavar='PREFIX', default='',
                            help='only operations starting with PREFIX in the service levels')
        parser.add_argument('--top', type=common.positive_int, default=10, metavar='N',
                            help='how many error rows (default %(default)s)')
        return parser

    def take_action(self, args):
        store = self.app.store
        latest = store.latest_time()
        now = common.now(args, default=latest)
        if latest is None:
            self.app.stderr.write('The store holds no spans yet.\n')
        policy = stuck.policy_of(self.app.conf)
        levels = [[getattr(row, f) for f in _SLA_FIELDS]
                  for row in store.sla(operation=args.operation)]
        sample = store.sample_span()
        if sample is None:
            sample_name, trace = None, []
        else:
            sample_name = '%s (%s: %d attempts on %s)' % (
                sample.request_id, sample.operation, sample.attempts,
                ', '.join(sorted(sample.hosts)))
            trace = trace_answer.trace_tree(trace_answer.linked_spans(store, sample.request_id), now,
                                            policy, ident=sample.request_id)
        rows = [('now', timeutil.iso(now) if latest else None),
                ('service levels', _Table(_SLA_COLUMNS, levels)),
                ('top errors', _Table(errors_answer.COLUMNS,
                                      errors_answer.rows(store.error_groups(), args.top))),
                ('stuck requests', _Table(stuck.COLUMNS,
                                          stuck.stuck(store.stuck_spans(now, policy), now, policy)
                                          if latest else [])),
                ('sample request', sample_name),
                ('sample trace', _Table(trace_answer.TRACE_COLUMNS, trace))]
        return tuple(zip(*rows))
