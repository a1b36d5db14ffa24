"""``nvs-notif report``: the operator's first look at a store."""
from cliff import command

from nvs_notif.cli import common
from nvs_notif import queries

_SLA_COLUMNS = ('operation', 'count', 'success %', 'failures', 'avg (s)', 'p95 (s)',
                'max (s)', 'mean attempts', 'reschedules')


class Report(command.Command):
    """Print service levels, the top errors, stuck requests and one sample trace.

    Runs ``sla``, ``errors --top``, ``stuck`` and ``trace`` in turn under
    headings.  "Now" is ``--now`` or else the newest time in the store, so a
    replayed or old store reads as it did when it was live.  The sample
    trace is the request whose operation took the most attempts (a
    reschedule when there is one).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--now', metavar='TIME',
                            help='ISO time to judge stuck requests against '
                                 '(default: the newest time in the store)')
        parser.add_argument('--operation', metavar='PREFIX', default='',
                            help='only operations starting with PREFIX in the SLA table')
        parser.add_argument('--top', type=int, default=10, metavar='N',
                            help='how many error rows (default %(default)s)')
        return parser

    def take_action(self, args):
        spans = self.app.store.spans()
        now = common.time_arg(args.now) if args.now else queries.latest_time(spans)
        if now is None:
            self.app.stdout.write('The store holds no spans yet.\n')
            return 0
        when = ['--now', now.isoformat()]
        sla = ['sla', '--operation', args.operation]
        for column in _SLA_COLUMNS:
            sla += ['-c', column]
        sections = [('Service levels', sla),
                    ('Top errors', ['errors', '--top', str(args.top)]),
                    ('Stuck requests as of %s' % now.isoformat(), ['stuck'] + when)]
        sample = max((s for s in spans if s.request_id),
                     key=lambda s: (s.attempts, len(s.hosts), s.span_id), default=None)
        if sample is not None:
            sections.append(('Trace of %s (%s: %d attempts on %s)' % (
                sample.request_id, sample.operation, sample.attempts,
                ', '.join(sorted(sample.hosts))), ['trace', sample.request_id] + when))
        for title, argv in sections:
            self.app.stdout.write('\n%s\n%s\n' % (title, '=' * len(title)))
            self.app.stdout.flush()
            result = self.app.run_subcommand(argv)
            if result:
                return result
        return 0
