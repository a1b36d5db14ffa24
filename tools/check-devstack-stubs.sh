# Stand-ins for what tools/check-devstack.sh cannot run: each records its
# call in $CALLS and does nothing else (sudo runs the command as the current
# user when the machine has no sudo).

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

function run_process {
    _stub_record "run_process $1 $2"
}

function stop_process {
    _stub_record "stop_process $*"
}

if ! type -P sudo >/dev/null; then
    function sudo {
        while [[ $1 == -* ]]; do shift; done
        "$@"
    }
fi
