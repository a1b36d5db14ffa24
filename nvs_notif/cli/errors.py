"""``nvs-notif errors``: which hosts and services fail, with which exceptions."""
from cliff import lister

from nvs_notif.answers import errors as errors_answer
from nvs_notif.cli import common


class Errors(common.Command, lister.Lister):
    """Count failed spans and error notifications by host, service and exception.

    ``source`` says what was counted: ``span`` (a failed request operation,
    on the host of its last attempt, at its failure time) or
    ``notification`` (one of priority error or critical).  A failed span's
    ``.error`` notification is counted in both; see
    :mod:`nvs_notif.answers.errors`.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        common.add_window(parser)
        parser.add_argument('--top', type=common.positive_int, metavar='N',
                            help='only the N most frequent rows')
        return parser

    def take_action(self, args):
        since, until = common.window(args)
        rows = errors_answer.rows(self.app.store.error_groups(since, until), args.top)
        return errors_answer.COLUMNS, common.explain_if_empty(
            self.app, rows, 'no errors %s' % common.between(since, until))

