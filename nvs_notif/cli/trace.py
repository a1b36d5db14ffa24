"""``nvs-notif trace``: everything about one request, across services."""
from cliff import lister

from nvs_notif.answers import stuck as stuck_answer
from nvs_notif.answers import trace as trace_answer
from nvs_notif.cli import common

class Trace(common.Command, lister.Lister):
    """Show a request (request id or global request id) as a tree of spans.

    One row per span: the root request(s) first, then the requests other
    services made for them (linked through the global request id), indented
    two spaces per level and in start order.  ``outcome`` is success,
    failure, in_progress or timeout (open past its ``[nvs]`` stuck limit as
    of ``--now``).

    With ``--raw`` the listing is the notifications of those requests instead
    (event_type, timestamp, host, priority, error, request), oldest first:
    one listing per command keeps every output format (json, csv) well formed.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('id', metavar='ID', help='request id or global request id')
        shown = parser.add_mutually_exclusive_group()
        shown.add_argument('--raw', action='store_true',
                           help='list the raw notifications of the traced requests')
        common.add_now(shown, 'outcomes are judged')
        return parser

    def take_action(self, args):
        store = self.app.store
        spans = trace_answer.linked_spans(store, args.id)
        if args.raw:
            requests = sorted({s.request_id for s in spans if s.request_id} | {args.id})
            rows = trace_answer.raw_rows(store.notifications(request_ids=requests,
                                                             oldest_first=True))
            return trace_answer.RAW_COLUMNS, common.explain_if_empty(
                self.app, rows, 'no notification of request %s' % args.id)
        now = common.now(args)
        rows = trace_answer.trace_tree(spans, now, stuck_answer.policy_of(self.app.conf),
                                       ident=args.id)
        return trace_answer.TRACE_COLUMNS, common.explain_if_empty(
            self.app, rows, 'no span of request %s' % args.id)
