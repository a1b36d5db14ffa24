#!/usr/bin/env bash
# Run the devstack plugin's phases through a real devstack checkout's shell
# libraries together with ceilometer's own devstack plugin, and check what
# they write.
#
#   tools/check-devstack.sh DEVSTACK_DIR CEILOMETER_DIR
#
# DEVSTACK_DIR and CEILOMETER_DIR are git checkouts (e.g. clones of
# opendev.org/openstack/devstack and .../ceilometer); nvs-notif is this
# repository's committed HEAD. Like stack.sh, a copy of devstack sources
# functions, lib/stack, the localrc of a local.conf with enable_plugin lines
# (stackrc), lib/rpc_backend, lib/apache, lib/keystone, lib/libraries;
# fetch_plugins clones
# both plugins into a scratch DEST; run_phase runs source, stack install,
# post-config (twice), extra, unstack and clean, with xtrace and errexit on.
# It does so twice: with and without USE_VENV.
#
# Stubbed, as they need a cloud, the network or a root-owned /etc: pip
# (pip_install records its calls; the constraints are checked offline by
# python -m tools.check_constraints), the requirements repository's
# edit-constraints, package installs and service restarts, keystone
# (create_service_user, get_or_create_service/endpoint, openstack), systemd
# (run_process/stop_process), Apache's a2ensite/a2dissite (its sites directory
# is in the scratch directory), /etc/tmpfiles.d, sudo (when the machine has
# none), and ceilometer's fixed /etc/ceilometer (moved into the scratch
# directory after the plugins' settings are loaded).
#
# Checks: the agent's own loader (ceilometer.notification's
# NamedExtensionManager over [notification] pipelines) builds meter, event
# and nvs, whose publisher opens the configured store with the configured
# credentials; the nvs-notif command reads the same; nvs-notif is installed
# where ceilometer is; post-config is idempotent; files holding secrets or
# data are 600 and their directories 700; no secret anywhere in the trace;
# clean puts ceilometer.conf back and removes our files; nvs-notif-api (enabled
# here) gets its service user, service and endpoint, a uWSGI file devstack's
# write_uwsgi_config wrote for its module, with its config file and venv, a
# process run_process starts, and its own entry point builds the app from the
# written nvs-notif-api.conf ([api], [keystone_authtoken]).
# Needs the project's .venv (tools/venv.sh test) for the checks.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 DEVSTACK_DIR CEILOMETER_DIR" >&2
    exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEVSTACK_SRC=$(cd "$1" && pwd)
CEILOMETER_SRC=$(cd "$2" && pwd)
PYTHON=$ROOT/.venv/bin/python
[[ -x $PYTHON ]] || { echo "run tools/venv.sh test first" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/check-devstack.XXXXXX")
trap '[[ -n ${KEEP:-} ]] || rm -rf "$WORK"' EXIT

# Made up for the run, never printed by the run itself.
export NVS_NOTIF_STORE_PASSWORD="pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# The API's service user's (devstack traces it, as every service's).
export SERVICE_PASSWORD=service-secret

echo "devstack   $(git -C "$DEVSTACK_SRC" rev-parse HEAD)"
echo "ceilometer $(git -C "$CEILOMETER_SRC" rev-parse HEAD)"
echo "nvs-notif  $(git -C "$ROOT" rev-parse HEAD)"

for use_venv in False True; do
    run=$WORK/venv-$use_venv
    mkdir -p "$run"
    cp -a "$DEVSTACK_SRC" "$run/devstack"
    cat > "$run/devstack/local.conf" <<EOF
[[local|localrc]]
DEST=$run/opt
DATA_DIR=$run/data
LOGDIR=$run/logs
SERVICE_HOST=127.0.0.1
HOST_IP=127.0.0.1
USE_VENV=$use_venv
GLOBAL_VENV=False
RECLONE=False
ERROR_ON_CLONE=False
STACK_USER=$(id -un)
ENABLE_DEBUG_LOG_LEVEL=True
CEILOMETER_BACKENDS=none
CEILOMETER_COORDINATION_URL=
VIRT_DRIVER=fake
disable_all_services
enable_service rabbit ceilometer-anotification nvs-notif-api
APACHE_CONF_DIR=$run/apache-sites
enable_plugin ceilometer file://$CEILOMETER_SRC $(git -C "$CEILOMETER_SRC" rev-parse HEAD)
enable_plugin nvs-notif file://$ROOT $(git -C "$ROOT" rev-parse HEAD)
NVS_NOTIF_CONF_DIR=$run/etc/nvs-notif
NVS_NOTIF_STORE_URL=elasticsearch://es1:9200,es2:9200/?index_prefix=nvs
NVS_NOTIF_STORE_USERNAME=nvs
EOF
    mkdir -p "$run/requirements/.venv/bin"
    cp "$ROOT/constraints/upper-constraints-master.txt" "$run/requirements/upper-constraints.txt"
    cp "$ROOT/constraints/global-requirements-master.txt" "$run/requirements/global-requirements.txt"
    mkdir -p "$run/logs"
    cat > "$run/requirements/.venv/bin/edit-constraints" <<'EOF'
#!/bin/sh
# Stand-in for openstack/requirements' edit-constraints FILE -- NAME: drops NAME.
sed -i "/^$3===/d" "$1"
EOF
    chmod +x "$run/requirements/.venv/bin/edit-constraints"

    # The phases, as stack.sh runs them.
    cat > "$run/phases.sh" <<EOF
TOP_DIR=$run/devstack
# git_clone adds safe.directory entries with git config --system.
export GIT_CONFIG_SYSTEM=$run/gitconfig
cd \$TOP_DIR
source \$TOP_DIR/functions
source \$TOP_DIR/lib/stack
rm -f \$TOP_DIR/.localrc.auto
extract_localrc_section \$TOP_DIR/local.conf \$TOP_DIR/localrc \$TOP_DIR/.localrc.auto
source \$TOP_DIR/stackrc
REQUIREMENTS_DIR=$run/requirements
CALLS=$run/calls
mkdir -p \$DEST \$DATA_DIR \$APACHE_CONF_DIR
source \$TOP_DIR/lib/rpc_backend
source \$TOP_DIR/lib/apache
source \$TOP_DIR/lib/keystone
source \$TOP_DIR/lib/libraries
source $ROOT/tools/check-devstack-stubs.sh
fetch_plugins
run_phase source
# ceilometer's settings fix /etc/ceilometer; keep the run in its directory.
CEILOMETER_CONF_DIR=$run/etc/ceilometer
CEILOMETER_CONF=\$CEILOMETER_CONF_DIR/ceilometer.conf
run_phase stack pre-install
run_phase stack install
run_phase stack post-config
cp \$CEILOMETER_CONF $run/ceilometer.conf.first
run_phase stack post-config
run_phase stack extra
RUN=$run USE_VENV=$use_venv PYTHONPATH=\$DEST/nvs-notif $PYTHON -m tools.check_devstack_files stacked
# What our clean must give back: ceilometer's own file, before our post-config.
rm \$CEILOMETER_CONF
source \$DEST/ceilometer/devstack/plugin.sh stack post-config
cp \$CEILOMETER_CONF $run/ceilometer.conf.ceilometer-only
source \$DEST/nvs-notif/devstack/plugin.sh stack post-config
source \$DEST/nvs-notif/devstack/plugin.sh clean
cp \$CEILOMETER_CONF $run/ceilometer.conf.cleaned
source \$DEST/nvs-notif/devstack/plugin.sh stack post-config
run_phase unstack
run_phase clean
RUN=$run PYTHONPATH=$ROOT $PYTHON -m tools.check_devstack_files cleaned
EOF
    echo "== USE_VENV=$use_venv"
    if ! bash -o errexit -o xtrace "$run/phases.sh" > "$run/trace" 2>&1; then
        grep -v '^+' "$run/trace" | tail -20 >&2
        tail -20 "$run/trace" >&2
        echo "FAILED: USE_VENV=$use_venv (the trace's end above)" >&2
        exit 1
    fi
    grep -E '^(ok  |FAIL)' "$run/trace"
    RUN=$run PYTHONPATH=$ROOT "$PYTHON" -m tools.check_devstack_files trace
done
echo "check-devstack: OK"
