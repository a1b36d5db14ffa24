"""``nvs-notif kibana-import`` and ``dashboards-import``: post the shipped saved
objects to a Kibana or an OpenSearch Dashboards."""
import argparse

from cliff import show

from nvs_notif.cli import common
from nvs_notif import kibana


class KibanaImport(common.Command, show.ShowOne):
    """Import the nvs data views, saved searches and dashboards into Kibana."""

    server = kibana.KIBANA
    url_option = '--kibana'
    url_help = ('Kibana base URL, e.g. http://kibana:5601 '
                '(include the space path /s/<space> for another space)')

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(self.url_option, dest='url', required=True, metavar='URL',
                            help=self.url_help)
        parser.add_argument('--index-prefix', default=kibana.DEFAULT_PREFIX,
                            help='index_prefix of the store (default %(default)s)')
        parser.add_argument('--file', default=self.server.file,
                            help='saved objects ndjson file (default %(default)s)')
        parser.add_argument('--user', metavar='USER:PASSWORD', type=_credentials,
                            help='basic auth credentials for %s' % self.server.name)
        parser.add_argument('--no-overwrite', action='store_true',
                            help='keep objects that already exist in %s' % self.server.name)
        return parser

    def take_action(self, args):
        objects = kibana.with_prefix(kibana.load(args.file), args.index_prefix)
        result = kibana.import_objects(args.url, objects, overwrite=not args.no_overwrite,
                                       auth=args.user, server=self.server)
        errors = result.get('errors') or []
        # Without overwrite, an object that exists is kept as it is: the
        # server reports it as a conflict and imports the others.
        kept = [e for e in errors if args.no_overwrite and _error_type(e) == 'conflict']
        refused = [e for e in errors if e not in kept]
        if refused or (not result.get('success') and not kept):
            raise RuntimeError('%s refused %d of %d objects: %s' % (
                self.server.name, len(refused), len(objects),
                '; '.join(_describe(e) for e in refused) or 'no reason given'))
        return (('imported', 'kept (existing)', 'objects'),
                (result.get('successCount'), ', '.join(_describe(e) for e in kept) or '-',
                 len(objects)))


class DashboardsImport(KibanaImport):
    """Import the nvs index patterns, saved searches and dashboards into OpenSearch Dashboards."""

    server = kibana.OPENSEARCH_DASHBOARDS
    url_option = '--dashboards'
    url_help = 'OpenSearch Dashboards base URL, e.g. http://opensearch-dashboards:5601'


def _error_type(error):
    return (error.get('error') or {}).get('type')


def _describe(error):
    """One object of the import's errors: type, id, title and why."""
    why = error.get('error') or {}
    detail = why.get('type', 'unknown')
    if why.get('references'):
        detail += ' (%s)' % ', '.join('%s %s' % (r.get('type'), r.get('id'))
                                      for r in why['references'])
    return '%s %s "%s": %s' % (error.get('type'), error.get('id'),
                               (error.get('meta') or {}).get('title', ''), detail)


def _credentials(value):
    """``USER:PASSWORD`` as a ``(user, password)`` pair."""
    user, sep, password = value.partition(':')
    if not sep:
        raise argparse.ArgumentTypeError('not USER:PASSWORD')
    return user, password
