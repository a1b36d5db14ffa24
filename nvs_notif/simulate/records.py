"""What the simulated cloud emits: :class:`SimulatedNotification`, and a JSON-lines writer."""
import dataclasses
import datetime
import json

#: The two notification topics: legacy (unversioned) payloads, nova's versioned payloads.
NOTIFICATIONS = 'notifications'
VERSIONED = 'versioned_notifications'


@dataclasses.dataclass(frozen=True, slots=True)
class SimulatedNotification:
    exchange: str        # control exchange: nova, cinder, glance, neutron, keystone, heat
    topic: str           # NOTIFICATIONS or VERSIONED
    publisher_id: str
    priority: str        # 'INFO' or 'ERROR'
    event_type: str
    payload: dict
    context: dict
    timestamp: datetime.datetime    # UTC-aware, simulated time
    message_id: str

    def to_message(self):
        """The notification dict as oslo.messaging puts it on the wire (v1 body), with the
        request context flattened as ``_context_<key>`` entries."""
        msg = {'message_id': self.message_id,
               'publisher_id': self.publisher_id,
               'event_type': self.event_type,
               'priority': self.priority,
               'payload': self.payload,
               'timestamp': self.timestamp.strftime('%Y-%m-%d %H:%M:%S.%f')}
        for key, value in self.context.items():
            msg['_context_' + key] = value
        return msg


def write_jsonl(notifications, fileobj):
    """Write one ``to_message()`` JSON object per line; return the number written."""
    n = 0
    dumps = json.dumps
    write = fileobj.write
    for notif in notifications:
        write(dumps(notif.to_message(), sort_keys=True) + '\n')
        n += 1
    return n
