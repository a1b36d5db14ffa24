#!/usr/bin/env bash
# Provision and start the servers the functional tests need, once per machine/session:
#   RabbitMQ  - Debian's rabbitmq-server, on 127.0.0.1:5672 (guest/guest)
#   Elasticsearch 8.x - the integ-test-zip distribution from Maven Central, unpacked under
#                       $NVS_CACHE_DIR, security off, small heap, on 127.0.0.1:9200
# Both are reused when they already answer. Point the tests at existing servers instead with
#   NVS_TEST_TRANSPORT_URL=rabbit://user:pass@host:5672/   and/or
#   NVS_TEST_ES_URL=http://host:9200
# in which case nothing is installed or started for that service.
#
# Usage: tools/test-services.sh [start|stop|status|stop-es|start-es|stop-rabbit|start-rabbit]
#        tools/test-services.sh add-vhost|delete-vhost NAME   (guest gets all rights on NAME)
#        tools/test-services.sh dead-letter-policy VHOST PATTERN EXCHANGE
#            (queues of VHOST matching PATTERN dead-letter into EXCHANGE; docs/operations.rst)
set -euo pipefail

ES_VERSION=${NVS_ES_VERSION:-8.19.3}
# Elasticsearch must run unprivileged, so as root the cache lives where that user can read it.
if [ "$(id -u)" = 0 ]; then CACHE=${NVS_CACHE_DIR:-/var/cache/nvs-notif}; else CACHE=${NVS_CACHE_DIR:-$HOME/.cache/nvs-notif}; fi
ES_PORT=${NVS_ES_PORT:-9200}
ES_HOME=$CACHE/elasticsearch-$ES_VERSION
ES_DATA=$CACHE/es-data
ES_LOGS=$CACHE/es-logs
ES_PIDFILE=$CACHE/es.pid
ES_HEAP=${NVS_ES_HEAP:-512m}

# A fixed node name that resolves locally, on loopback only.
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODENAME=${RABBITMQ_NODENAME:-rabbit@localhost}

log() { echo "[test-services] $*" >&2; }

es_url() { echo "${NVS_TEST_ES_URL:-http://127.0.0.1:$ES_PORT}"; }

es_up() { curl -fsS "$(es_url)/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; }

rabbit_up() {
    if [ -n "${NVS_TEST_TRANSPORT_URL:-}" ]; then return 0; fi
    (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && rabbitmq-diagnostics -q check_running >/dev/null 2>&1
}

install_rabbit() {
    command -v rabbitmq-server >/dev/null && command -v curl >/dev/null && return 0
    log "installing rabbitmq-server from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server curl >/dev/null
}

start_rabbit() {
    if [ -n "${NVS_TEST_TRANSPORT_URL:-}" ]; then
        log "RabbitMQ: using NVS_TEST_TRANSPORT_URL"; return 0
    fi
    if rabbit_up; then log "RabbitMQ: already running"; return 0; fi
    install_rabbit
    log "RabbitMQ: starting"
    # setsid: a server started from inside a job (a test restarting it) must not
    # die with that job's process group.
    setsid rabbitmq-server -detached >/dev/null 2>&1 || true
    for _ in $(seq 1 120); do
        if rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1 && rabbit_up; then
            log "RabbitMQ: up"; return 0
        fi
        sleep 1
    done
    log "RabbitMQ did not start; see /var/log/rabbitmq"; return 1
}

install_es() {
    [ -x "$ES_HOME/bin/elasticsearch" ] && return 0
    command -v mvn >/dev/null || { log "mvn is required to fetch Elasticsearch"; return 1; }
    mkdir -p "$CACHE"
    log "fetching Elasticsearch $ES_VERSION (integ-test-zip) with Maven"
    mvn -q -B dependency:copy \
        -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
        -DoutputDirectory="$CACHE" -Dmdep.overWriteIfNewer=true >"$CACHE/mvn.log" 2>&1 \
        || { cat "$CACHE/mvn.log" >&2; return 1; }
    rm -rf "$ES_HOME.tmp" && mkdir -p "$ES_HOME.tmp"
    unzip -q "$CACHE/elasticsearch-$ES_VERSION.zip" -d "$ES_HOME.tmp"
    mv "$ES_HOME.tmp/elasticsearch-$ES_VERSION" "$ES_HOME" && rm -rf "$ES_HOME.tmp"
}

start_es() {
    if [ -n "${NVS_TEST_ES_URL:-}" ]; then
        es_up || { log "NVS_TEST_ES_URL=$NVS_TEST_ES_URL does not answer"; return 1; }
        log "Elasticsearch: using NVS_TEST_ES_URL"; return 0
    fi
    if es_up; then log "Elasticsearch: already running"; return 0; fi
    install_es
    mkdir -p "$ES_DATA" "$ES_LOGS"
    # Elasticsearch refuses to run as root; run it as an unprivileged user.
    local run_as=()
    if [ "$(id -u)" = 0 ]; then
        id nvs-es >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin nvs-es
        chown -R nvs-es "$ES_HOME" "$ES_DATA" "$ES_LOGS"
        touch "$ES_PIDFILE" && chown nvs-es "$ES_PIDFILE"
        run_as=(runuser -u nvs-es --)
    fi
    # The integ-test zip ships no JDK: use the machine's.
    export ES_JAVA_HOME=${ES_JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
    log "Elasticsearch: starting on 127.0.0.1:$ES_PORT"
    # setsid: see start_rabbit.
    ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP" setsid "${run_as[@]}" "$ES_HOME/bin/elasticsearch" -d -p "$ES_PIDFILE" \
        -Enetwork.host=127.0.0.1 -Ehttp.port="$ES_PORT" -Ediscovery.type=single-node \
        -Expack.security.enabled=false -Epath.data="$ES_DATA" -Epath.logs="$ES_LOGS" \
        -Ecluster.routing.allocation.disk.threshold_enabled=false \
        -Eaction.destructive_requires_name=false >"$ES_LOGS/console.log" 2>&1
    for _ in $(seq 1 180); do
        if es_up; then log "Elasticsearch: up"; return 0; fi
        sleep 1
    done
    log "Elasticsearch did not start; see $ES_LOGS"; return 1
}

stop_es() {
    [ -n "${NVS_TEST_ES_URL:-}" ] && return 0
    if [ -s "$ES_PIDFILE" ]; then
        local pid; pid=$(cat "$ES_PIDFILE")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    fi
}

stop_rabbit() {
    [ -n "${NVS_TEST_TRANSPORT_URL:-}" ] && return 0
    # A clean stop: durable queues and persistent messages are on disk when it returns.
    rabbitmqctl -q stop >/dev/null 2>&1 || true
    for _ in $(seq 1 60); do
        (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || return 0
        sleep 1
    done
    log "RabbitMQ did not stop"; return 1
}

vhost() {
    local action=$1 name=${2:-}
    [ -n "$name" ] || { echo "usage: $0 $action-vhost NAME" >&2; exit 2; }
    if [ -n "${NVS_TEST_TRANSPORT_URL:-}" ]; then
        log "RabbitMQ: NVS_TEST_TRANSPORT_URL is set; not managing vhosts there"; return 1
    fi
    if [ "$action" = add ]; then
        rabbitmqctl -q add_vhost "$name" >/dev/null
        rabbitmqctl -q set_permissions -p "$name" guest '.*' '.*' '.*' >/dev/null
    else
        rabbitmqctl -q delete_vhost "$name" >/dev/null
    fi
}

# The policy of docs/operations.rst "Poison messages": a quorum queue's message past
# its delivery limit goes to EXCHANGE instead of being dropped.
dead_letter_policy() {
    local vhost=${1:-} pattern=${2:-} exchange=${3:-}
    [ -n "$vhost" ] && [ -n "$pattern" ] && [ -n "$exchange" ] \
        || { echo "usage: $0 dead-letter-policy VHOST PATTERN EXCHANGE" >&2; exit 2; }
    if [ -n "${NVS_TEST_TRANSPORT_URL:-}" ]; then
        log "RabbitMQ: NVS_TEST_TRANSPORT_URL is set; not setting policies there"; return 1
    fi
    # --apply-to queues: RabbitMQ before 3.12 knows no quorum_queues.
    rabbitmqctl -q set_policy -p "$vhost" nvs-dead-letters "$pattern" \
        "{\"dead-letter-exchange\": \"$exchange\"}" --apply-to queues >/dev/null
}

case "${1:-start}" in
    start) start_rabbit; start_es ;;
    start-es) start_es ;;
    stop-es) stop_es ;;
    start-rabbit) start_rabbit ;;
    stop-rabbit) stop_rabbit ;;
    add-vhost) vhost add "${2:-}" ;;
    delete-vhost) vhost delete "${2:-}" ;;
    dead-letter-policy) dead_letter_policy "${2:-}" "${3:-}" "${4:-}" ;;
    stop) stop_es; stop_rabbit ;;
    status) rabbit_up && echo "rabbitmq: up" || echo "rabbitmq: down"
            es_up && echo "elasticsearch: up ($(es_url))" || echo "elasticsearch: down" ;;
    *) echo "usage: $0 [start|stop|status|start-es|stop-es|start-rabbit|stop-rabbit]" \
            "| add-vhost|delete-vhost NAME | dead-letter-policy VHOST PATTERN EXCHANGE" >&2
       exit 2 ;;
esac
