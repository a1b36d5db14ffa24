"""``nvs-notif errors``: which hosts and services fail, with which exceptions."""
from cliff import lister

from nvs_notif.cli import common
from nvs_notif import queries


class Errors(lister.Lister):
    """Count failed spans and error notifications by host, service and exception.

    ``source`` says what was counted: ``span`` (a failed request operation,
    on the host of its last attempt, at its failure time) or
    ``notification`` (one of priority error or critical).  A failed span's
    ``.error`` notification is counted in both; see
    :func:`nvs_notif.queries.errors`.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.add_window(parser)
        parser.add_argument('--top', type=common.positive_int, metavar='N',
                            help='only the N most frequent rows')
        return parser

    def take_action(self, args):
        since, until = common.window(args)
        rows = error_rows(self.app.store, since, until, args.top)
        return queries.ERRORS_COLUMNS, common.explain_if_empty(
            self.app, rows, 'no errors %s' % common.between(since, until))


def error_rows(store, since=None, until=None, top=None):
    """The rows of ``errors`` (``ERRORS_COLUMNS``), the ``top`` most frequent if given."""
    spans = store.spans(since=since, until=until)
    docs = store.notifications(since=since, until=until, priorities=queries.ERROR_PRIORITIES)
    rows = queries.errors(spans, docs, since, until)
    return rows[:top] if top else rows
