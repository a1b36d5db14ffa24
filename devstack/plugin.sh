# nvs-notif devstack plugin: installs nvs-notif into ceilometer's environment
# and adds the nvs pipeline to ceilometer-agent-notification.
#
#   [[local|localrc]]
#   enable_plugin ceilometer https://opendev.org/openstack/ceilometer
#   enable_plugin nvs-notif <URL of this repository> main
#
# Enable it after ceilometer: its post-config edits the ceilometer.conf that
# ceilometer's post-config writes, before ceilometer starts its agents in the
# extra phase.  It acts only where ceilometer-anotification is enabled.
# Settings: devstack/settings.

# Save trace setting
_XTRACE_NVS_NOTIF=$(set +o | grep xtrace)
set -o xtrace

# install_nvs_notif - into the environment ceilometer-agent-notification runs
# from: ceilometer's venv with USE_VENV=True, the global one otherwise
function install_nvs_notif {
    if [[ ${USE_VENV} = True && -n ${PROJECT_VENV[ceilometer]:-} ]]; then
        PIP_VIRTUAL_ENV=${PROJECT_VENV[ceilometer]} setup_develop $NVS_NOTIF_DIR
    else
        setup_develop $NVS_NOTIF_DIR
    fi
}

# _nvs_notif_pipeline_file - the shipped pipeline with the store URL as its
# one publisher (quoted for YAML: a URL may hold '&', '#' or quotes)
function _nvs_notif_pipeline_file {
    # ENVIRON, unlike awk -v, takes the value without escape processing.
    NVS_URL="$NVS_NOTIF_STORE_URL" awk -v q="'" '
        /^ *- elasticsearch:\/\// {
            url = ENVIRON["NVS_URL"]
            gsub(q, q q, url)
            match($0, /^ */)
            print substr($0, 1, RLENGTH) "- " q url q
            next
        }
        { print }' $NVS_NOTIF_DIR/etc/pipeline/nvs_pipeline.yaml
}

# _nvs_notif_set_credentials FILE - the store's credentials into
# [nvs_store_default] of FILE, made mode 600 (ceilometer.conf holds the
# RabbitMQ password too); with xtrace off, never echoed
function _nvs_notif_set_credentials {
    local xtrace file=$1
    xtrace=$(set +o | grep xtrace)
    set +o xtrace
    (umask 077; touch $file)
    chmod 600 $file
    local name value
    for name in username password api_key; do
        case $name in
            username) value=${NVS_NOTIF_STORE_USERNAME:-} ;;
            password) value=${NVS_NOTIF_STORE_PASSWORD:-} ;;
            api_key) value=${NVS_NOTIF_STORE_API_KEY:-} ;;
        esac
        if [[ -n "$value" ]]; then
            iniset $file nvs_store_default $name "$value"
        else
            inidelete $file nvs_store_default $name
        fi
    done
    $xtrace
}

function configure_nvs_notif {
    if [[ ! -f $CEILOMETER_CONF ]]; then
        die $LINENO "$CEILOMETER_CONF not found: enable_plugin nvs-notif after enable_plugin ceilometer"
    fi
    if [[ "$NVS_NOTIF_STORE_URL" == *@* ]]; then
        die $LINENO "NVS_NOTIF_STORE_URL holds credentials: set NVS_NOTIF_STORE_USERNAME and NVS_NOTIF_STORE_PASSWORD (or NVS_NOTIF_STORE_API_KEY) instead"
    fi
    # Data (the SQLite store, the spool) and secrets: the stack user's only.
    sudo install -d -o $STACK_USER -m 700 $NVS_NOTIF_DATA_DIR $NVS_NOTIF_DATA_DIR/spool \
        $NVS_NOTIF_CONF_DIR
    if [[ "$NVS_NOTIF_STORE_URL" == sqlite:///* ]]; then
        # SQLite gives its -wal and -shm files the database file's mode.
        (umask 077; touch ${NVS_NOTIF_STORE_URL#sqlite://})
    fi
    (umask 077; _nvs_notif_pipeline_file > $CEILOMETER_CONF_DIR/nvs_pipeline.yaml)

    # What clean puts back: [notification] pipelines as ceilometer left it.
    local pipelines
    pipelines=$(iniget_multiline $CEILOMETER_CONF notification pipelines)
    if [[ ! -f $NVS_NOTIF_DATA_DIR/ceilometer-pipelines ]]; then
        echo "$pipelines" > $NVS_NOTIF_DATA_DIR/ceilometer-pipelines
    fi
    # pipelines is a multi-valued option: nvs is added to what is there
    # (ceilometer's default, meter and event, when nothing is).
    pipelines=${pipelines:-meter event}
    if [[ " $pipelines " != *" nvs "* ]]; then
        iniset_multiline $CEILOMETER_CONF notification pipelines $pipelines nvs
    fi
    iniset $CEILOMETER_CONF notification batch_size $NVS_NOTIF_BATCH_SIZE
    iniset $CEILOMETER_CONF notification batch_timeout 1
    iniset $CEILOMETER_CONF oslo_messaging_rabbit rabbit_qos_prefetch_count \
        $((4 * NVS_NOTIF_BATCH_SIZE))
    iniset $CEILOMETER_CONF nvs pipeline_cfg_file $CEILOMETER_CONF_DIR/nvs_pipeline.yaml
    iniset $CEILOMETER_CONF nvs spool_dir $NVS_NOTIF_DATA_DIR/spool
    _nvs_notif_set_credentials $CEILOMETER_CONF

    # The nvs-notif command reads the same store.
    _nvs_notif_set_credentials $NVS_NOTIF_CONF_DIR/nvs-notif.conf
    iniset $NVS_NOTIF_CONF_DIR/nvs-notif.conf cli store "$NVS_NOTIF_STORE_URL"
}

# _nvs_notif_api_check - the API hooks need the API in the checkout
function _nvs_notif_api_check {
    local module=${NVS_NOTIF_API_WSGI%%:*}
    if [[ ! -f $NVS_NOTIF_DIR/${module//.//}.py ]]; then
        die $LINENO "nvs-notif-api is enabled but $NVS_NOTIF_API_WSGI is not in $NVS_NOTIF_DIR"
    fi
}

# _nvs_notif_set_keystone_client FILE - [keystone]: the service user, a
# system reader, the hub asks Keystone as whether a project it was told was
# updated is still enabled
# (keystone's notifications carry no state); without it, subscriptions to a
# disabled project's topics would end only at their next renewal
function _nvs_notif_set_keystone_client {
    local xtrace file=$1
    xtrace=$(set +o | grep xtrace)
    set +o xtrace
    iniset $file keystone auth_type password
    iniset $file keystone auth_url $KEYSTONE_SERVICE_URI
    iniset $file keystone username nvs-notif
    iniset $file keystone password "$SERVICE_PASSWORD"
    iniset $file keystone user_domain_name "$SERVICE_DOMAIN_NAME"
    iniset $file keystone system_scope all
    iniset $file keystone region_name "$REGION_NAME"
    $xtrace
}

# create_nvs_notif_api_accounts - the service user keystonemiddleware
# validates tokens as, the service and its endpoint
function create_nvs_notif_api_accounts {
    create_service_user nvs-notif
    # Reading projects (the hub's [keystone] client) takes a system reader:
    # the service role of keystonemiddleware's user may not.
    openstack --os-cloud devstack-system-admin role add --user nvs-notif \
        --user-domain "$SERVICE_DOMAIN_NAME" --system all reader
    get_or_create_service nvs-notif $NVS_NOTIF_API_SERVICE_TYPE "nvs-notif notification analytics"
    get_or_create_endpoint $NVS_NOTIF_API_SERVICE_TYPE "$REGION_NAME" \
        "$SERVICE_PROTOCOL://$SERVICE_HOST$NVS_NOTIF_API_PATH"
}

function configure_nvs_notif_api {
    _nvs_notif_api_check
    sudo install -d -o $STACK_USER -m 700 $NVS_NOTIF_CONF_DIR
    _nvs_notif_set_credentials $NVS_NOTIF_API_CONF
    iniset $NVS_NOTIF_API_CONF api store "$NVS_NOTIF_STORE_URL"
    configure_keystone_authtoken_middleware $NVS_NOTIF_API_CONF nvs-notif keystone_authtoken \
        $NVS_NOTIF_API_SERVICE_TYPE
    _nvs_notif_set_keystone_client $NVS_NOTIF_API_CONF
    write_uwsgi_config $NVS_NOTIF_API_UWSGI_CONF $NVS_NOTIF_API_WSGI $NVS_NOTIF_API_PATH "" \
        nvs-notif-api
    # A WSGI server passes no command line: the app finds its file here.
    iniset $NVS_NOTIF_API_UWSGI_CONF uwsgi env NVS_NOTIF_API_CONFIG_FILES=$NVS_NOTIF_API_CONF
    if [[ ${USE_VENV} = True && -n ${PROJECT_VENV[ceilometer]:-} ]]; then
        # Where install_nvs_notif put it (GLOBAL_VENV: run_process adds --venv).
        iniset $NVS_NOTIF_API_UWSGI_CONF uwsgi venv ${PROJECT_VENV[ceilometer]}
    fi
    create_nvs_notif_api_accounts
}

# _nvs_notif_bin NAME - where install_nvs_notif put the command NAME
function _nvs_notif_bin {
    if [[ ${USE_VENV} = True && -n ${PROJECT_VENV[ceilometer]:-} ]]; then
        echo ${PROJECT_VENV[ceilometer]}/bin/$1
    else
        echo $(get_python_exec_prefix)/$1
    fi
}

# start_nvs_notif_api - run_process writes the systemd units
# devstack@nvs-notif-api and devstack@nvs-notif-hub (the WebSub hub's work)
# and starts them
function start_nvs_notif_api {
    run_process nvs-notif-api "$(which uwsgi) --procname-prefix nvs-notif-api --ini $NVS_NOTIF_API_UWSGI_CONF"
    run_process nvs-notif-hub "$(_nvs_notif_bin nvs-notif-hub) --config-file $NVS_NOTIF_API_CONF"
}

function stop_nvs_notif_api {
    stop_process nvs-notif-hub
    stop_process nvs-notif-api
}

function cleanup_nvs_notif {
    # ceilometer's own clean removes ceilometer.conf; when it did not, our
    # lines go and [notification] pipelines is put back as post-config found it.
    local saved=$NVS_NOTIF_DATA_DIR/ceilometer-pipelines
    if [[ -f $CEILOMETER_CONF && -f $saved ]]; then
        if [[ -s $saved && -n "$(cat $saved)" ]]; then
            iniset_multiline $CEILOMETER_CONF notification pipelines $(cat $saved)
        else
            inidelete $CEILOMETER_CONF notification pipelines
        fi
    fi
    if [[ -f $CEILOMETER_CONF ]]; then
        inidelete $CEILOMETER_CONF notification batch_size
        inidelete $CEILOMETER_CONF notification batch_timeout
        inidelete $CEILOMETER_CONF oslo_messaging_rabbit rabbit_qos_prefetch_count
        inidelete $CEILOMETER_CONF nvs pipeline_cfg_file
        inidelete $CEILOMETER_CONF nvs spool_dir
        local name
        for name in username password api_key; do
            inidelete $CEILOMETER_CONF nvs_store_default $name
        done
    fi
    if is_service_enabled nvs-notif-api; then
        # The uWSGI file and its Apache site.
        remove_uwsgi_config $NVS_NOTIF_API_UWSGI_CONF nvs-notif-api
    fi
    sudo rm -rf $NVS_NOTIF_DATA_DIR $NVS_NOTIF_CONF_DIR
    rm -f $CEILOMETER_CONF_DIR/nvs_pipeline.yaml
}

# The agent's nodes get the plugin and the nvs pipeline; the API (off unless
# enable_service nvs-notif-api) may run elsewhere.
if is_service_enabled ceilometer-anotification nvs-notif-api; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing nvs-notif"
        install_nvs_notif
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring nvs-notif"
        if is_service_enabled ceilometer-anotification; then
            configure_nvs_notif
        fi
        if is_service_enabled nvs-notif-api; then
            configure_nvs_notif_api
        fi
    elif [[ "$1" == "stack" && "$2" == "extra" ]] && is_service_enabled nvs-notif-api; then
        echo_summary "Starting nvs-notif-api"
        start_nvs_notif_api
    fi

    if [[ "$1" == "unstack" ]] && is_service_enabled nvs-notif-api; then
        stop_nvs_notif_api
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_nvs_notif
    fi
fi

# Restore xtrace
$_XTRACE_NVS_NOTIF
