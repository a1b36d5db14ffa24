# Stand-ins for what tools/check-devstack.sh cannot run: each records its
# call in $CALLS and does nothing else (sudo runs the command as the current
# user when the machine has no sudo, and records instead what touches
# /etc/tmpfiles.d).

function _stub_record {
    echo "$*" >> $CALLS
}

function pip_install {
    _stub_record "pip_install venv=${PIP_VIRTUAL_ENV:-} -c $REQUIREMENTS_DIR/upper-constraints.txt $*"
}

function install_package {
    _stub_record "install_package $*"
}

function restart_service {
    _stub_record "restart_service $*"
}

function create_service_user {
    _stub_record "create_service_user $*"
}

function get_or_create_service {
    _stub_record "get_or_create_service $*"
}

function get_or_create_endpoint {
    _stub_record "get_or_create_endpoint $*"
}

function openstack {
    _stub_record "openstack $*"
}

function enable_apache_site {
    _stub_record "enable_apache_site $*"
}

function disable_apache_site {
    _stub_record "disable_apache_site $*"
}

function run_process {
    _stub_record "run_process $1 $2"
}

function stop_process {
    _stub_record "stop_process $*"
}

# write_uwsgi_config's socket directory, declared in /etc/tmpfiles.d: recorded.
function sudo {
    while [[ $1 == -* ]]; do shift; done
    if [[ "$*" == *tmpfiles* ]]; then
        _stub_record "sudo $*"
        if [[ -p /dev/stdin ]]; then cat >/dev/null; fi
    elif type -P sudo >/dev/null; then
        command sudo "$@"
    else
        "$@"
    fi
}
