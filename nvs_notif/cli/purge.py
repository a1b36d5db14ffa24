"""``nvs-notif purge``: the retention policy for clusters without ILM and for SQLite."""
import argparse
import datetime

from cliff import lister

from nvs_notif.cli import common


class Purge(common.Command, lister.Lister):
    """Remove notifications, spans, events, samples and rejects older than N days."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--older-than', type=_days, required=True, metavar='DAYS',
                            help='age in days (> 0); documents older than this are removed')
        return parser

    def take_action(self, args):
        before = (datetime.datetime.now(datetime.timezone.utc)
                  - datetime.timedelta(days=args.older_than))
        store = self.app.store
        removed = store.purge(before)
        return ('kind', 'removed'), sorted(removed.items())


def _days(value):
    """A positive, finite number of days: a negative or infinite age would put
    the cutoff in the future (everything removed) or out of the clock's range."""
    try:
        days = float(value)
    except ValueError:
        days = None
    if days is None or not 0 < days < 36500:
        raise argparse.ArgumentTypeError('not an age in days between 0 and 36500: %r' % value)
    return days
