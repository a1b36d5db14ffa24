"""``nvs-notif history``: what a tenant, user or resource did, newest first."""
from cliff import lister

from nvs_notif.answers import history as history_answer
from nvs_notif.cli import common


class History(common.Command, lister.Lister):
    """List the notifications of a project, user or resource, newest first."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        who = parser.add_argument_group('whose history (at least one)')
        who.add_argument('--project', metavar='ID', help='project (tenant) id')
        who.add_argument('--user', metavar='ID', help='user id')
        who.add_argument('--resource', metavar='ID', help='resource id (instance, volume...)')
        common.add_window(parser)
        parser.add_argument('--limit', type=common.positive_int, default=100,
                            help='at most this many notifications (default %(default)s)')
        return common.require_one_of(parser, ('project', 'user', 'resource'),
                                     'give --project, --user or --resource')

    def take_action(self, args):
        since, until = common.window(args)
        store = self.app.store
        docs = store.notifications(project_id=args.project, user_id=args.user,
                                   resource_id=args.resource, since=since,
                                   until=until, limit=args.limit,
                                   fields=history_answer.HISTORY_FIELDS)
        rows = history_answer.history_rows(docs)
        whose = ', '.join('%s %s' % (name, value) for name, value in (
            ('project', args.project), ('user', args.user), ('resource', args.resource))
            if value)
        return history_answer.HISTORY_COLUMNS, common.explain_if_empty(
            self.app, rows, 'no notifications of %s %s' % (whose, common.between(since, until)))
