"""``nvs-notif stuck``: requests still open past their limit."""
from cliff import lister

from nvs_notif.answers import stuck
from nvs_notif.cli import common
from nvs_notif import timeutil


class Stuck(common.Command, lister.Lister):
    """List requests still open past their per-operation stuck limit.

    A span counts as stuck when it is open (a start and no end or failure
    yet, or a retry or reschedule that started after the latest end or
    failure) and has been open longer than ``[nvs] stuck_after`` (or the
    longest matching ``stuck_after_overrides`` prefix); a retry counts from
    its own start.  ``--now`` sets the clock, for replayed or old data.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.add_now(parser, 'requests are judged')
        common.add_operation(parser)
        return parser

    def take_action(self, args):
        now = common.now(args)
        policy = stuck.policy_of(self.app.conf)
        # The store reads only its open spans, past their limits.
        spans = self.app.store.stuck_spans(now, policy, args.operation)
        rows = stuck.stuck(spans, now, policy)
        return stuck.COLUMNS, common.explain_if_empty(
            self.app, rows, 'no request open past its limit as of %s' % timeutil.iso(now))
