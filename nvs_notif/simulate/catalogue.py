"""The fixed catalogue of the simulated cloud: flavors, images, the exceptions services
raise and how legacy payloads carry them, names of servers and HTTP agents."""

# name, id, vcpus, memory_mb, root_gb, ephemeral_gb
FLAVORS = (
    ('m1.tiny', 1, 1, 512, 1, 0),
    ('m1.small', 2, 1, 2048, 20, 0),
    ('m1.medium', 3, 2, 4096, 40, 0),
    ('m1.large', 4, 4, 8192, 80, 0),
    ('m1.xlarge', 5, 8, 16384, 160, 0),
    ('c1.4x8', 6, 4, 8192, 40, 20),
)
# name, size in bytes, disk_format, os_type, min_disk
IMAGES = (
    ('cirros-0.6.2-x86_64', 21430272, 'qcow2', 'linux', 1),
    ('ubuntu-22.04-server', 682164224, 'qcow2', 'linux', 10),
    ('debian-12-generic', 417333248, 'qcow2', 'linux', 5),
    ('centos-stream-9', 1163001856, 'qcow2', 'linux', 10),
    ('fedora-39-cloud', 554696704, 'qcow2', 'linux', 5),
    ('windows-server-2019', 12884901888, 'raw', 'windows', 40),
)

# (exception class, message template, reschedulable?)  -- failures on a compute host
COMPUTE_FAULTS = (
    ('PortBindingFailed', 'Binding failed for port {port}, please check neutron logs for more '
                          'information.', True),
    ('ComputeResourcesUnavailable', 'Insufficient compute resources: Free memory 1024.00 MB '
                                    '< requested {mem} MB.', True),
    ('VirtualInterfaceCreateException', 'Virtual Interface creation failed', True),
    ('libvirtError', 'internal error: qemu unexpectedly closed the monitor: '
                     'Could not allocate guest RAM', True),
    ('ImageNotFound', 'Image {image} could not be found.', False),
    ('BuildAbortException', 'Build of instance {uuid} aborted: Failure prepping block '
                            'device.', False),
)
#: NovaException subclasses: their ``code`` and constructor kwargs (templates as above);
#: libvirtError is not one.
NOVA_EXCEPTIONS = {
    'PortBindingFailed': (400, {'port_id': '{port}'}),
    'ComputeResourcesUnavailable': (503, {'reason': 'Free memory 1024.00 MB < requested '
                                                    '{mem} MB'}),
    'VirtualInterfaceCreateException': (500, {}),
    'ImageNotFound': (404, {'image_id': '{image}'}),
    'BuildAbortException': (500, {'instance_uuid': '{uuid}',
                                  'reason': 'Failure prepping block device.'}),
    'NoValidHost': (500, {'reason': 'There are not enough hosts available.'}),
    'MaxRetriesExceeded': (500, {'reason': 'Exhausted all hosts available for retrying build '
                                           'failures for instance {uuid}.'}),
}
RESCHEDULABLE = tuple((e, m) for e, m, r in COMPUTE_FAULTS if r)
FATAL = tuple((e, m) for e, m, r in COMPUTE_FAULTS if not r)
NO_VALID_HOST = 'No valid host was found. There are not enough hosts available.'
MAX_RETRIES = ('Exceeded maximum number of retries. Exhausted all hosts available for '
                'retrying build failures for instance {uuid}.')


def wire_exception(exc, msg, fields=None, remote=False):
    """An exception as a legacy payload carries it: what ``jsonutils.to_primitive`` makes
    of the exception object, i.e. its ``repr``.

    A NovaException's ``__repr__`` (nova >= 18) is ``str(self.__dict__)`` plus ``'class'``;
    any other exception has ``BaseException.__repr__``. ``remote``: raised in another
    service and re-raised from the RPC reply, as oslo.messaging's ``<name>_Remote``."""
    name = exc + '_Remote' if remote else exc
    known = NOVA_EXCEPTIONS.get(exc)
    if known is None:
        return '%s(%r)' % (name, msg)
    code, templates = known
    kwargs = {k: v.format(**(fields or {})) for k, v in templates.items()}
    kwargs['code'] = code
    return str({'kwargs': kwargs, 'message': msg, 'class': name})


def exception_code(exc):
    known = NOVA_EXCEPTIONS.get(exc)
    return known[0] if known else 500


NAMES = ('web', 'db', 'cache', 'worker', 'api', 'batch', 'k8s-node', 'build', 'etl', 'lb')
AGENTS = ('python-openstackclient', 'python-novaclient', 'openstacksdk/1.0.1',
           'keystoneauth1/5.5.0 python-requests/2.31.0', 'Terraform/1.6.6 gophercloud/1.7.0')
