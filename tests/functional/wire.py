"""Publish raw bodies to RabbitMQ, for what oslo.messaging's Notifier cannot send."""
import amqp
import kombu

from nvs_notif import drain
from tests.functional.support import TRANSPORT_URL

EXCHANGE = 'nova'


class WirePublisher:
    """Publishes bodies the way oslo.messaging's rabbit driver does.

    :param durable: durable exchange and queue, as oslo declares them with
        ``amqp_durable_queues`` or ``rabbit_quorum_queue``
    :param queue_arguments: the queue's ``x-`` arguments; they must match the
        agent's (``{'x-queue-type': 'quorum', 'x-delivery-limit': 3}``), since
        RabbitMQ refuses a declaration with other ones
    """

    def __init__(self, topic, transport_url=TRANSPORT_URL, durable=False, queue_arguments=None):
        self.topic = topic
        self.durable = durable
        self.queue_arguments = queue_arguments
        self.conn = kombu.Connection(drain.kombu_url(transport_url))
        self.channel = self.conn.channel()
        self.exchange = kombu.Exchange(EXCHANGE, type='topic', durable=durable,
                                       auto_delete=False)
        self.producer = kombu.Producer(self.channel, exchange=self.exchange)
        self._declared = set()

    def queue_name(self, priority):
        return '%s.%s' % (self.topic, priority)

    def publish(self, body, priority='info'):
        key = self.queue_name(priority)
        if key not in self._declared:
            kombu.Queue(key, exchange=self.exchange, routing_key=key, durable=self.durable,
                        auto_delete=False, queue_arguments=self.queue_arguments,
                        channel=self.channel).declare()
            self._declared.add(key)
        self.producer.publish(body, routing_key=key, content_type='application/json',
                              content_encoding='utf-8', serializer=None)

    def ready(self, priority):
        """Messages ready in the queue (not counting those a consumer holds)."""
        _, count, _ = self.channel.queue_declare(self.queue_name(priority), passive=True)
        return count

    def consumers(self, priority):
        """Consumers of the queue; 0 while nobody declared it yet."""
        # A passive declaration of a missing queue closes its channel: not ours.
        with self.conn.channel() as channel:
            try:
                _, _, consumers = channel.queue_declare(self.queue_name(priority), passive=True)
            except amqp.exceptions.NotFound:
                return 0
        return consumers

    def purge(self, priority):
        self.channel.queue_purge(self.queue_name(priority))

    def close(self):
        self.conn.release()
