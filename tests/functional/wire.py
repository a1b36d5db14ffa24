"""Publish raw bodies to RabbitMQ, for what oslo.messaging's Notifier cannot send."""
import kombu

from tests.functional.conftest import TRANSPORT_URL

EXCHANGE = 'nova'


def _kombu_url():
    return TRANSPORT_URL.replace('rabbit://', 'amqp://', 1)


class WirePublisher:
    """Publishes bodies the way oslo.messaging's rabbit driver does."""

    def __init__(self, topic):
        self.topic = topic
        self.conn = kombu.Connection(_kombu_url())
        self.channel = self.conn.channel()
        self.exchange = kombu.Exchange(EXCHANGE, type='topic', durable=False, auto_delete=False)
        self.producer = kombu.Producer(self.channel, exchange=self.exchange)
        self._declared = set()

    def queue_name(self, priority):
        return '%s.%s' % (self.topic, priority)

    def publish(self, body, priority='info'):
        key = self.queue_name(priority)
        if key not in self._declared:
            kombu.Queue(key, exchange=self.exchange, routing_key=key, durable=False,
                        auto_delete=False, channel=self.channel).declare()
            self._declared.add(key)
        self.producer.publish(body, routing_key=key, content_type='application/json',
                              content_encoding='utf-8', serializer=None)

    def ready(self, priority):
        """Messages ready in the queue (not counting those a consumer holds)."""
        _, count, _ = self.channel.queue_declare(self.queue_name(priority), passive=True)
        return count

    def consumers(self, priority):
        _, _, consumers = self.channel.queue_declare(self.queue_name(priority), passive=True)
        return consumers

    def purge(self, priority):
        self.channel.queue_purge(self.queue_name(priority))

    def close(self):
        self.conn.release()
