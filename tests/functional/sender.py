"""Send notifications the way OpenStack services do: oslo.messaging's Notifier."""
from oslo_config import cfg
from oslo_context import context as oslo_context
import oslo_messaging


class Sender:
    """One Notifier per (exchange, publisher_id, topic), on a real transport."""

    def __init__(self, transport_url, topic):
        self.transport_url = transport_url
        self.topic = topic
        self._transports = {}
        self._notifiers = {}

    def _transport(self, exchange):
        if exchange not in self._transports:
            conf = cfg.ConfigOpts()
            conf([], project='nvs-sender')
            # Registers the transport options, control_exchange among them.
            oslo_messaging.get_notification_transport(conf, url=self.transport_url).cleanup()
            conf.set_override('control_exchange', exchange)
            self._transports[exchange] = oslo_messaging.get_notification_transport(
                conf, url=self.transport_url)
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
