"""``nvs-notif purge``: the retention policy for clusters without ILM and for SQLite."""
import datetime

from cliff import lister


class Purge(lister.Lister):
    """Remove notifications, spans, events, samples and rejects older than N days."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--older-than', type=float, required=True, metavar='DAYS',
                            help='age in days; documents older than this are removed')
        return parser

    def take_action(self, args):
        before = (datetime.datetime.now(datetime.timezone.utc)
                  - datetime.timedelta(days=args.older_than))
        store = self.app.store
        removed = store.purge(before)
        return ('kind', 'removed'), sorted(removed.items())
