"""``nvs-notif watch``: a live tail of new notifications, with filters."""
import datetime
import json
import time

from cliff import command

from nvs_notif.answers import errors as errors_answer
from nvs_notif.answers import history as history_answer
from nvs_notif.cli import common
from nvs_notif import timeutil

_FORMAT = '%-32s %-8s %-12s %-44s %-40s %s'


class Watch(common.Command, command.Command):
    """Follow new notifications as they reach the store, one line each.

    Polls the store every ``--interval`` seconds for notifications newer
    than the newest one already shown (each message id is shown once) and
    prints, oldest first: time, priority, host, event type, request id and
    error type (``-`` when missing).  Without ``--since`` only notifications
    that arrive after the start are shown; with it, those since that time
    come first.  A notification that reaches the store up to ``--late``
    seconds behind a newer one is still shown.  Stops after ``--count``
    lines or ``--duration`` seconds when given; Ctrl-C ends it cleanly.

    This command streams, so it is a plain cliff ``Command`` rather than a
    ``Lister`` (which returns a finished table): it writes each line to the
    app's output stream, ``self.app.stdout``, and flushes after each poll.
    ``-f json`` writes one JSON object per line instead.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        filters = parser.add_argument_group('filters (all must match)')
        filters.add_argument('--project', metavar='ID', help='project (tenant) id')
        filters.add_argument('--request', metavar='ID', help='request id or global request id')
        filters.add_argument('--host', metavar='HOST', help='host name')
        filters.add_argument('--service', metavar='NAME', help='service (nova, cinder...)')
        filters.add_argument('--event-type', metavar='PREFIX',
                             help='event types starting with PREFIX (compute.instance.)')
        filters.add_argument('--errors-only', action='store_true',
                             help='only notifications of priority error or critical')
        parser.add_argument('--since', metavar='TIME', type=common.time_arg,
                            help='first show the notifications since this ISO time or age '
                                 '(30m, 2h); default: only new ones')
        parser.add_argument('--interval', type=common.positive_seconds, default=2.0, metavar='SECONDS',
                            help='seconds between polls (default %(default)s)')
        parser.add_argument('--late', type=float, default=10.0, metavar='SECONDS',
                            help='still show notifications stored up to this many seconds '
                                 'behind a newer one (default %(default)s)')
        parser.add_argument('--count', type=common.positive_int, metavar='N',
                            help='stop after N lines')
        parser.add_argument('--duration', type=common.positive_seconds, metavar='SECONDS',
                            help='stop after this many seconds')
        parser.add_argument('-f', '--format', choices=('line', 'json'), default='line',
                            help='line (default) or json (one object per line)')
        return parser

    def take_action(self, args):
        deadline = time.monotonic() + args.duration if args.duration is not None else None
        late = max(args.late, 0.0)
        if args.since:
            since, show = args.since.at(timeutil.utcnow()), True
        else:
            # The first poll only learns what is already there.
            since, show = timeutil.utcnow() - datetime.timedelta(seconds=late), False
        left = args.count
        tail = history_answer.Tail(since, late)
        try:
            while left is None or left > 0:
                for doc in tail.step(self._poll(tail, args, left if show else None)):
                    if show:
                        self._emit(doc, args.format)
                        left = left - 1 if left is not None else None
                        if left == 0:
                            break
                show = True
                self.app.stdout.flush()
                remaining = deadline - time.monotonic() if deadline is not None else None
                if (left is not None and left <= 0) or (remaining is not None
                                                        and remaining <= 0):
                    break
                time.sleep(min(args.interval, remaining) if remaining is not None
                           else args.interval)
        except KeyboardInterrupt:
            # Ctrl-C is how a tail ends: not an error.
            self.app.stdout.flush()
        return 0

    def _poll(self, tail, args, left):
        """What the store lists since the tail's bound, oldest first, every filter
        applied by the store; at most ``left`` new ones (plus those already shown
        that it may list again)."""
        return self.app.store.notifications(
            since=tail.since, project_id=args.project, request=args.request, host=args.host,
            service=args.service, event_type=args.event_type,
            priorities=errors_answer.PRIORITIES if args.errors_only else None,
            oldest_first=True, limit=left + len(tail.seen) if left is not None else None)

    def _emit(self, doc, fmt):
        row = history_answer.watch_row(doc)
        if fmt == 'json':
            line = json.dumps(dict(zip(history_answer.WATCH_COLUMNS, row)), sort_keys=True)
        else:
            line = (_FORMAT % row).rstrip()
        self.app.stdout.write(line + '\n')
