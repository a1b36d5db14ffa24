"""``nvs-notif drain``: store the messages of a RabbitMQ dead-letter queue."""
import os
import time

from cliff import show

from nvs_notif.cli import common


class Drain(common.Command, show.ShowOne):
    """Take every message of a dead-letter QUEUE and store it through the nvs pipeline.

    Each message is stored with its own priority, or kept as a reject with
    the reason (a priority that is not a known string, a body that is not
    JSON); a message already stored counts as a duplicate. Messages are
    acknowledged only once the store accepted them.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('queue', metavar='QUEUE', help='the dead-letter queue')
        parser.add_argument('--transport-url', metavar='URL',
                            default=os.environ.get('NVS_NOTIF_TRANSPORT_URL'),
                            help='RabbitMQ as oslo.messaging names it, '
                                 'rabbit://user:pass@host:5672/vhost '
                                 '(env NVS_NOTIF_TRANSPORT_URL)')
        parser.add_argument('--batch-size', type=common.positive_int, default=500,
                            help='messages per store write (default %(default)s)')
        parser.add_argument('--limit', type=common.positive_int, metavar='N',
                            help='take at most N messages (default: until the queue is empty)')
        return common.require_one_of(parser, ('transport_url',),
                                     'give --transport-url (or set NVS_NOTIF_TRANSPORT_URL)')

    def take_action(self, args):
        # Imported here: "nvs-notif --help" imports every command's module,
        # and these (kombu, oslo.messaging, ceilometer) take seconds.
        from nvs_notif import replay as replay_mod
        endpoint = self.app.local_endpoint()
        started = time.monotonic()
        try:
            stats, left = self._drain(args, endpoint)
        finally:
            replay_mod.local_store(endpoint).close()
        rows = [('queue', args.queue),
                ('taken', stats['taken']),
                ('stored', stats['notifications'] - stats['duplicates']),
                ('duplicates', stats['duplicates']),
                ('rejected', stats['rejects']),
                ('left in queue', left),
                ('seconds', round(time.monotonic() - started, 2))]
        return tuple(zip(*rows))

    @staticmethod
    def _drain(args, endpoint):
        import kombu
        from nvs_notif import drain as drain_mod
        with kombu.Connection(drain_mod.kombu_url(args.transport_url),
                              connect_timeout=10) as conn:
            conn.ensure_connection(max_retries=3)
            channel = conn.channel()
            # Checked first: a mistyped name must not pass for an empty queue.
            drain_mod.queue_depth(channel, args.queue)
            stats = drain_mod.drain(channel, args.queue, endpoint, args.batch_size, args.limit)
            return stats, drain_mod.queue_depth(channel, args.queue)
