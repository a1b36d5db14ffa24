"""The registry of request flows: every service's module and its ``FLOWS``.

A new service's flows go in a module of their own here (see ``flow.py`` for the
contract), listed in ``_SERVICES``. The order of the kinds is the order of ``DEFAULT_MIX``,
which the default random stream depends on (tests/unit/test_simulate_digest.py pins it):
append new kinds at the end."""
from nvs_notif.simulate.flows import cinder, glance, heat, keystone, neutron, nova

_SERVICES = (nova, cinder, glance, neutron, keystone, heat)

#: Every flow kind by name (:class:`~nvs_notif.simulate.flow.FlowKind`).
FLOWS = {kind.name: kind for service in _SERVICES for kind in service.FLOWS}
#: Relative weights of the request flows started by users (``SimConfig.mix``).
DEFAULT_MIX = {name: kind.weight for name, kind in FLOWS.items()}
FLOW_KINDS = tuple(FLOWS)
