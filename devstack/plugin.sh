# nvs-notif devstack plugin: installs nvs-notif into ceilometer's environment
# and adds the nvs pipeline to ceilometer-agent-notification.
#
#   [[local|localrc]]
#   enable_plugin ceilometer https://opendev.org/openstack/ceilometer
#   enable_plugin nvs-notif <URL of this repository>
#
# Enable it after ceilometer: its post-config edits the ceilometer.conf that
# ceilometer's post-config writes, before ceilometer starts its agents in the
# extra phase.  Settings: devstack/settings.

# Save trace setting
_XTRACE_NVS_NOTIF=$(set +o | grep xtrace)
set -o xtrace

function install_nvs_notif {
    setup_develop $NVS_NOTIF_DIR
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

# _nvs_notif_write_store_url - the store URL into the agent's pipeline and
# the nvs-notif command's config; it may hold a password, so neither the
# trace nor other users see it
function _nvs_notif_write_store_url {
    local xtrace
    xtrace=$(set +o | grep xtrace)
    set +o xtrace
    (
        umask 077
        _nvs_notif_pipeline_file > $CEILOMETER_CONF_DIR/nvs_pipeline.yaml
        touch $NVS_NOTIF_CONF_DIR/nvs-notif.conf
    )
    iniset $NVS_NOTIF_CONF_DIR/nvs-notif.conf cli store "$NVS_NOTIF_STORE_URL"
    $xtrace
}

function configure_nvs_notif {
    if [[ ! -f $CEILOMETER_CONF ]]; then
        die $LINENO "$CEILOMETER_CONF not found: enable_plugin nvs-notif after enable_plugin ceilometer"
    fi
    sudo install -d -o $STACK_USER -m 755 $NVS_NOTIF_DATA_DIR $NVS_NOTIF_DATA_DIR/spool \
        $NVS_NOTIF_CONF_DIR
    _nvs_notif_write_store_url

    # pipelines is a multi-valued option: nvs is added to what is there
    # (ceilometer's default, meter and event, when nothing is).
    local pipelines
    pipelines=$(iniget_multiline $CEILOMETER_CONF notification pipelines)
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
}

function cleanup_nvs_notif {
    sudo rm -rf $NVS_NOTIF_DATA_DIR $NVS_NOTIF_CONF_DIR
    rm -f $CEILOMETER_CONF_DIR/nvs_pipeline.yaml
}

if [[ "$1" == "stack" && "$2" == "install" ]]; then
    echo_summary "Installing nvs-notif"
    install_nvs_notif
elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
    echo_summary "Configuring nvs-notif"
    configure_nvs_notif
fi

if [[ "$1" == "clean" ]]; then
    cleanup_nvs_notif
fi

# Restore xtrace
$_XTRACE_NVS_NOTIF
