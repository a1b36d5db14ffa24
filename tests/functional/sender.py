"""Send notifications the way OpenStack services do: oslo.messaging's Notifier."""
from oslo_context import context as oslo_context
import oslo_messaging

from tools import loadgen


class Sender:
    """One Notifier per (exchange, publisher_id, topic), on a real transport.

    :param rabbit_options: ``[oslo_messaging_rabbit]`` overrides; they must
        match the agent's (see :func:`tools.loadgen.notification_transport`)
    """

    def __init__(self, transport_url, topic, rabbit_options=None):
        self.transport_url = transport_url
        self.topic = topic
        self.rabbit_options = rabbit_options
        self._transports = {}
        self._notifiers = {}

    def _transport(self, exchange):
        if exchange not in self._transports:
            self._transports[exchange] = loadgen.notification_transport(
                self.transport_url, exchange, self.rabbit_options)
        return self._transports[exchange]

    def notifier(self, exchange, publisher_id, topic=None):
        key = (exchange, publisher_id, topic or self.topic)
        if key not in self._notifiers:
            self._notifiers[key] = oslo_messaging.Notifier(
                self._transport(exchange), publisher_id=publisher_id,
                driver='messagingv2', topics=[topic or self.topic])
        return self._notifiers[key]

    def send(self, exchange, publisher_id, priority, event_type, payload, context=None):
        notifier = self.notifier(exchange, publisher_id)
        # Services pass a RequestContext: oslo.messaging drops plain dicts
        # and sends the context's redacted copy.
        values = dict(context or {})
        values.setdefault('user', values.get('user_id'))
        ctxt = oslo_context.RequestContext.from_dict(values)
        getattr(notifier, priority.lower())(ctxt, event_type, payload)

    def send_simulated(self, sim):
        """Send a :class:`nvs_notif.simulate.SimulatedNotification`."""
        self.send(sim.exchange, sim.publisher_id, sim.priority, sim.event_type,
                  sim.payload, sim.context)

    def close(self):
        for transport in self._transports.values():
            transport.cleanup()
