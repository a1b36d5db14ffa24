"""How the simulated cloud is shaped: :class:`SimConfig`, validated when it is made."""
import dataclasses
import datetime

from nvs_notif.simulate.flows import DEFAULT_MIX, FLOW_KINDS

DEFAULT_START = datetime.datetime(2024, 1, 15, 8, 0, 0, tzinfo=datetime.timezone.utc)

_RATIOS = ('hung_ratio', 'error_ratio', 'reschedule_ratio', 'versioned_ratio',
           'boot_from_volume_ratio')


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """The cloud and its traffic. Same configuration, same notifications.

    :param seed: seed of the only random generator.
    :param start: aware datetime of simulated time zero (kept in UTC).
    :param hosts: compute hosts ``host-1..N`` (the first half in ``az-1``, the rest in
        ``az-2``).
    :param projects: tenants; each has ``users_per_project`` users (the first one admin).
    :param controllers: controller hosts ``ctl-1..K`` running the APIs, scheduler,
        conductor, neutron, keystone and heat.
    :param rate: mean user requests started per simulated second (Poisson arrivals).
    :param hung_ratio: fraction of request flows that stop for good after a ``.start``.
    :param error_ratio: scales failures: NoValidHost / fatal build errors / failed rebuilds,
        cinder scheduling failures, failed keystone authentications.
    :param reschedule_ratio: fraction of server creates rescheduled to 1-2 other hosts.
    :param versioned_ratio: fraction of nova flows (and audits) using versioned payloads on
        topic ``versioned_notifications``; ``service.update`` is always versioned.
    :param boot_from_volume_ratio: fraction of successful creates booting from a new volume.
    :param maintenance_interval: mean seconds between two nova-compute services being
        disabled for maintenance (``service.update`` disabled, then enabled after ~15
        minutes); nova sends ``service.update`` on such changes only.
    :param audit_interval: seconds between usage audits (``compute.instance.exists``) per host.
    :param instances_per_host: instances existing at time zero on each compute host.
    :param max_instances: cap of instances remembered (``None``: ``64 * hosts``).
    :param mix: weights per flow kind (keys from ``FLOW_KINDS``), default ``DEFAULT_MIX``;
        kinds left out (or weighted 0) are not generated.
    """
    seed: int = 0
    start: datetime.datetime = DEFAULT_START
    hosts: int = 8
    projects: int = 5
    users_per_project: int = 3
    controllers: int = 1
    rate: float = 2.0
    hung_ratio: float = 0.02
    error_ratio: float = 0.05
    reschedule_ratio: float = 0.1
    versioned_ratio: float = 0.3
    boot_from_volume_ratio: float = 0.2
    maintenance_interval: float = 1800.0
    audit_interval: float = 3600.0
    instances_per_host: int = 4
    max_instances: int = None
    mix: dict = None

    def __post_init__(self):
        if self.start.tzinfo is None:
            raise ValueError('start must be timezone-aware')
        if min(self.hosts, self.projects, self.users_per_project, self.controllers) < 1:
            raise ValueError('hosts, projects, users_per_project and controllers must be >= 1')
        if min(self.rate, self.maintenance_interval, self.audit_interval) <= 0:
            raise ValueError('rate and intervals must be positive')
        for name in _RATIOS:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError('%s must be within [0, 1]' % name)
        mix = {k: float(v) for k, v in (DEFAULT_MIX if self.mix is None else self.mix).items()
               if v}
        if set(mix) - set(FLOW_KINDS) or not mix or min(mix.values()) < 0:
            raise ValueError('mix needs positive weights for kinds among %s' % (FLOW_KINDS,))
        # Normalised once here, so the rest of the simulator reads plain values.
        object.__setattr__(self, 'start', self.start.astimezone(datetime.timezone.utc))
        object.__setattr__(self, 'mix', mix)
        if not self.max_instances:
            object.__setattr__(self, 'max_instances', 64 * self.hosts)
