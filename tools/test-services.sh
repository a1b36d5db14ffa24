#!/usr/bin/env bash
# Provision and start the servers the functional tests need, once per machine/session:
#   RabbitMQ       - Debian's rabbitmq-server, on 127.0.0.1:5672 (guest/guest)
#   Elasticsearch  - 9.x, the integ-test-zip distribution from Maven Central (Java 21+),
#                    on 127.0.0.1:9200
#   OpenSearch     - 2.19.x, the integ-test-zip distribution from Maven Central (Java 17),
#                    on 127.0.0.1:9201
#   Keystone       - the keystone package from PyPI in its own venv (pinned by
#                    constraints/upper-constraints-master.txt), SQLite, fernet tokens,
#                    served by gunicorn on 127.0.0.1:5000, with the test projects and
#                    users of tools/keystone_setup.py
# The search engines are unpacked under $NVS_CACHE_DIR, security off, small heaps, data
# in a directory per version. Each server is reused when it already answers; a server of
# ours of another version on the port (an older release of this script) is stopped and
# replaced. Point the tests at existing servers instead with
#   NVS_TEST_TRANSPORT_URL=rabbit://user:pass@host:5672/,  NVS_TEST_ES_URL=http://host:9200,
#   NVS_TEST_OPENSEARCH_URL=http://host:9201  and/or  NVS_TEST_KEYSTONE_URL=http://host:5000
# in which case nothing is installed or started for that service (the test users are
# still made in that Keystone, as admin with $NVS_TEST_KEYSTONE_ADMIN_PASSWORD, by the
# project's .venv). Ports and versions: NVS_ES_PORT, NVS_ES_VERSION, NVS_OPENSEARCH_PORT,
# NVS_OPENSEARCH_VERSION, NVS_KEYSTONE_PORT, NVS_KEYSTONE_VERSION.
#
# Usage: tools/test-services.sh [start|stop|status|start-es|stop-es|start-opensearch|
#                                stop-opensearch|start-rabbit|stop-rabbit|
#                                start-keystone|stop-keystone]
#        tools/test-services.sh add-vhost|delete-vhost NAME   (guest gets all rights on NAME)
#        tools/test-services.sh dead-letter-policy VHOST PATTERN EXCHANGE
#            (queues of VHOST matching PATTERN dead-letter into EXCHANGE; docs/operations.rst)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# Search engines must run unprivileged, so as root the cache lives where that user can read it.
if [ "$(id -u)" = 0 ]; then CACHE=${NVS_CACHE_DIR:-/var/cache/nvs-notif}; else CACHE=${NVS_CACHE_DIR:-$HOME/.cache/nvs-notif}; fi

# One search engine's facts, by name (es | opensearch): sets VERSION PORT URL HOME_DIR
# DATA LOGS PIDFILE HEAP ARTIFACT BIN TITLE JAVA_MIN JAVA_MAX JAVA_VAR OPTS_VAR.
engine() {
    case $1 in
    es) TITLE=Elasticsearch VERSION=${NVS_ES_VERSION:-9.5.0} PORT=${NVS_ES_PORT:-9200}
        URL=${NVS_TEST_ES_URL:-} HEAP=${NVS_ES_HEAP:-1g} BIN=elasticsearch
        ARTIFACT=org.elasticsearch.distribution.integ-test-zip:elasticsearch
        JAVA_MIN=21 JAVA_MAX=99 JAVA_VAR=ES_JAVA_HOME OPTS_VAR=ES_JAVA_OPTS ;;
    opensearch) TITLE=OpenSearch VERSION=${NVS_OPENSEARCH_VERSION:-2.19.6}
        PORT=${NVS_OPENSEARCH_PORT:-9201} URL=${NVS_TEST_OPENSEARCH_URL:-}
        HEAP=${NVS_OPENSEARCH_HEAP:-512m} BIN=opensearch
        ARTIFACT=org.opensearch.distribution.integ-test-zip:opensearch
        JAVA_MIN=17 JAVA_MAX=21 JAVA_VAR=OPENSEARCH_JAVA_HOME OPTS_VAR=OPENSEARCH_JAVA_OPTS ;;
    esac
    HOME_DIR=$CACHE/$BIN-$VERSION
    DATA=$CACHE/$BIN-$VERSION-data
    LOGS=$CACHE/$BIN-$VERSION-logs
    PIDFILE=$CACHE/$BIN-$PORT.pid
    MANAGED=$([ -z "$URL" ] && echo yes || echo no)
    URL=${URL:-http://127.0.0.1:$PORT}
}

# A fixed node name that resolves locally, on loopback only.
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODENAME=${RABBITMQ_NODENAME:-rabbit@localhost}

log() { echo "[test-services] $*" >&2; }

engine_up() { curl -fsS "$URL/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; }

# The version of the node answering at $URL (GET / is not served by the minimal
# Elasticsearch 9 distribution; the nodes API is, by both engines).
engine_version() {
    curl -fsS "$URL/_nodes/_local?filter_path=nodes.*.version" 2>/dev/null \
        | python3 -c 'import json,sys; print(*[n["version"] for n in json.load(sys.stdin)["nodes"].values()])'
}

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

# A JDK whose major version is in [$JAVA_MIN, $JAVA_MAX]: the machine's default
# java first, then those under /usr/lib/jvm (the integ-test zips ship none).
pick_java() {
    local java major
    for java in "$(readlink -f "$(command -v java 2>/dev/null)" 2>/dev/null)" /usr/lib/jvm/*/bin/java; do
        [ -x "$java" ] || continue
        major=$("$java" -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p')
        if [ -n "$major" ] && [ "$major" -ge "$JAVA_MIN" ] && [ "$major" -le "$JAVA_MAX" ]; then
            dirname "$(dirname "$java")"; return 0
        fi
    done
    log "$TITLE $VERSION needs Java $JAVA_MIN..$JAVA_MAX; none found"; return 1
}

install_engine() {
    [ -x "$HOME_DIR/bin/$BIN" ] && return 0
    command -v mvn >/dev/null || { log "mvn is required to fetch $TITLE"; return 1; }
    mkdir -p "$CACHE"
    log "fetching $TITLE $VERSION (integ-test-zip) with Maven"
    mvn -q -B dependency:copy -Dartifact="$ARTIFACT:$VERSION:zip" \
        -DoutputDirectory="$CACHE" -Dmdep.overWriteIfNewer=true >"$CACHE/mvn.log" 2>&1 \
        || { cat "$CACHE/mvn.log" >&2; return 1; }
    rm -rf "$HOME_DIR.tmp" && mkdir -p "$HOME_DIR.tmp"
    unzip -q "$CACHE/$BIN-$VERSION.zip" -d "$HOME_DIR.tmp"
    mv "$HOME_DIR.tmp/$BIN-$VERSION" "$HOME_DIR" && rm -rf "$HOME_DIR.tmp"
}

# The pid of the server of ours listening on $PORT, from its pidfile (es.pid is
# where the releases that ran Elasticsearch 8 on 9200 kept theirs).
managed_pid() {
    local f pid
    for f in "$PIDFILE" $([ "$BIN" = elasticsearch ] && [ "$PORT" = 9200 ] && echo "$CACHE/es.pid"); do
        [ -s "$f" ] || continue
        pid=$(cat "$f")
        kill -0 "$pid" 2>/dev/null && grep -qa -- "$CACHE" "/proc/$pid/cmdline" 2>/dev/null \
            && { echo "$pid"; return 0; }
    done
    return 1
}

stop_pid() {
    local pid=$1
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || return 0; sleep 1; done
    log "$TITLE (pid $pid) did not stop"; return 1
}

start_engine() {
    engine "$1"
    if [ "$MANAGED" = no ]; then
        engine_up || { log "$TITLE at $URL (from the environment) does not answer"; return 1; }
        log "$TITLE: using $URL"; return 0
    fi
    if engine_up; then
        local running; running=$(engine_version || true)
        if [ "$running" = "$VERSION" ]; then log "$TITLE $VERSION: already running"; return 0; fi
        local pid; pid=$(managed_pid) || {
            log "$URL answers with version '$running', not $TITLE $VERSION, and is not ours to stop"
            return 1; }
        log "$TITLE: replacing version $running (pid $pid) on port $PORT with $VERSION"
        stop_pid "$pid"
    fi
    install_engine
    mkdir -p "$DATA" "$LOGS"
    # Search engines refuse to run as root; run them as an unprivileged user.
    local run_as=()
    if [ "$(id -u)" = 0 ]; then
        id nvs-es >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin nvs-es
        chown -R nvs-es "$HOME_DIR" "$DATA" "$LOGS"
        touch "$PIDFILE" && chown nvs-es "$PIDFILE"
        run_as=(runuser -u nvs-es --)
    fi
    local java_home; java_home=$(pick_java)
    log "$TITLE $VERSION: starting on 127.0.0.1:$PORT (Java at $java_home)"
    # setsid: see start_rabbit. The JVM's variables are passed through env, as
    # runuser keeps the environment.
    env "$JAVA_VAR=$java_home" "$OPTS_VAR=-Xms$HEAP -Xmx$HEAP" \
        setsid "${run_as[@]}" "$HOME_DIR/bin/$BIN" -d -p "$PIDFILE" \
        -Enetwork.host=127.0.0.1 -Ehttp.port="$PORT" -Ediscovery.type=single-node \
        -Epath.data="$DATA" -Epath.logs="$LOGS" \
        $([ "$BIN" = elasticsearch ] && echo -Expack.security.enabled=false) \
        -Ecluster.routing.allocation.disk.threshold_enabled=false \
        -Eaction.destructive_requires_name=false >"$LOGS/console.log" 2>&1
    for _ in $(seq 1 180); do
        if engine_up; then log "$TITLE $VERSION: up"; return 0; fi
        sleep 1
    done
    log "$TITLE did not start; see $LOGS"; return 1
}

stop_engine() {
    engine "$1"
    [ "$MANAGED" = no ] && return 0
    local pid; pid=$(managed_pid) || return 0
    stop_pid "$pid"
}

status_engine() {
    engine "$1"
    if engine_up; then echo "$BIN: up ($URL, $(engine_version || echo 'version unknown'))"
    else echo "$BIN: down ($URL)"; fi
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

# Keystone: the facts, as engine() gives a search engine's.
KS_VERSION=${NVS_KEYSTONE_VERSION:-30.0.0}
KS_PORT=${NVS_KEYSTONE_PORT:-5000}
KS_URL=${NVS_TEST_KEYSTONE_URL:-http://127.0.0.1:$KS_PORT}
KS_HOME=$CACHE/keystone-$KS_VERSION          # the venv
KS_DATA=$CACHE/keystone-$KS_VERSION-data     # config, SQLite database, keys, logs
KS_PIDFILE=$CACHE/keystone-$KS_PORT.pid

keystone_up() { curl -fsS "$KS_URL/v3" >/dev/null 2>&1; }

# The gunicorn master of ours serving on $KS_PORT (any version), from its pidfile.
keystone_pid() {
    local pid
    [ -s "$KS_PIDFILE" ] && pid=$(cat "$KS_PIDFILE") && kill -0 "$pid" 2>/dev/null \
        && grep -qa -- "$CACHE/keystone-" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

# keystone's deps stay in its own venv, pinned as OpenStack's master pins the oslo libs.
install_keystone() {
    [ -x "$KS_HOME/bin/keystone-manage" ] && [ -x "$KS_HOME/bin/gunicorn" ] && return 0
    log "Keystone $KS_VERSION: installing from PyPI into $KS_HOME"
    mkdir -p "$CACHE" && rm -rf "$KS_HOME" && python3 -m venv "$KS_HOME"
    "$KS_HOME/bin/pip" install -q -c "$ROOT/constraints/upper-constraints-master.txt" \
        "keystone==$KS_VERSION" gunicorn >"$CACHE/keystone-pip.log" 2>&1 \
        || { rm -rf "$KS_HOME"; cat "$CACHE/keystone-pip.log" >&2; return 1; }
}

# keystone.conf and gunicorn.conf.py on stdout (the files on disk are compared with
# them to know whether a running Keystone is the one wanted).
keystone_conf() {
    cat <<EOF
[DEFAULT]
log_file = $KS_DATA/keystone.log
[database]
connection = sqlite:///$KS_DATA/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = $KS_DATA/fernet-keys
[credential]
key_repository = $KS_DATA/credential-keys
[identity]
# bcrypt's minimum: every test token costs a password check.
password_hash_rounds = 4
[cache]
# Token validations from the cache: a request takes ~0.1 s instead of ~0.5 s. A
# process's own memory: one worker process (gunicorn_conf), so a revoked token is
# revoked in every thread at once.
enabled = true
backend = dogpile.cache.memory
EOF
}

gunicorn_conf() {
    cat <<EOF
# gunicorn reads this file from its working directory: keystone parses the
# process's command line with oslo.config, so gunicorn gets no arguments.
wsgi_app = 'keystone.wsgi.api:application'
bind = '127.0.0.1:$KS_PORT'
workers = 1
threads = 4
timeout = 60
control_socket_disable = True
daemon = True
pidfile = '$KS_PIDFILE'
errorlog = '$KS_DATA/gunicorn.log'
raw_env = ['OS_KEYSTONE_CONFIG_FILES=$KS_DATA/keystone.conf']
EOF
}

# The database, keys and bootstrap (admin; roles admin, member, reader, service;
# region; the public identity endpoint) of a new data directory, once per version.
init_keystone() {
    [ -f "$KS_DATA/bootstrapped" ] && return 0
    log "Keystone $KS_VERSION: creating the database and keys in $KS_DATA"
    rm -rf "$KS_DATA" && mkdir -p "$KS_DATA"
    keystone_conf >"$KS_DATA/keystone.conf"
    local manage=("$KS_HOME/bin/keystone-manage" --config-file "$KS_DATA/keystone.conf")
    local owner=(--keystone-user "$(id -un)" --keystone-group "$(id -gn)")
    local password; password=$(python3 "$ROOT/tools/keystone_setup.py" --admin-password)
    # Quiet unless it fails: keystone-manage prints pages of deprecation warnings.
    { "${manage[@]}" db_sync \
        && "${manage[@]}" fernet_setup "${owner[@]}" \
        && "${manage[@]}" credential_setup "${owner[@]}" \
        && "${manage[@]}" bootstrap --bootstrap-password "$password" \
            --bootstrap-username admin --bootstrap-project-name admin \
            --bootstrap-region-id RegionOne --bootstrap-public-url "$KS_URL"
    } >"$KS_DATA/keystone-manage.log" 2>&1 || { cat "$KS_DATA/keystone-manage.log" >&2; return 1; }
    touch "$KS_DATA/bootstrapped"
}

# The test projects and users (tools/keystone_setup.py), by a Python with keystoneauth1.
provision_keystone() {
    local python=$KS_HOME/bin/python
    [ -n "${NVS_TEST_KEYSTONE_URL:-}" ] && python=$ROOT/.venv/bin/python
    "$python" "$ROOT/tools/keystone_setup.py" "$KS_URL" | sed 's/^/[test-services] Keystone: /' >&2
    test "${PIPESTATUS[0]}" = 0
}

start_keystone() {
    if [ -n "${NVS_TEST_KEYSTONE_URL:-}" ]; then
        keystone_up || { log "Keystone at $KS_URL (from the environment) does not answer"; return 1; }
        log "Keystone: using $KS_URL"; provision_keystone; return 0
    fi
    local pid; pid=$(keystone_pid || true)
    if keystone_up; then
        [ -n "$pid" ] || { log "$KS_URL answers and is not a Keystone of ours to stop"; return 1; }
        if grep -qa -- "$KS_HOME/" "/proc/$pid/cmdline" && [ "$(keystone_conf; gunicorn_conf)" \
                = "$(cat "$KS_DATA/keystone.conf" "$KS_DATA/gunicorn.conf.py" 2>/dev/null)" ]; then
            log "Keystone $KS_VERSION: already running"; provision_keystone; return 0
        fi
        log "Keystone: replacing pid $pid (another version or configuration) on port $KS_PORT"
        TITLE=Keystone stop_pid "$pid"
    fi
    install_keystone
    init_keystone
    keystone_conf >"$KS_DATA/keystone.conf"
    gunicorn_conf >"$KS_DATA/gunicorn.conf.py"
    log "Keystone $KS_VERSION: starting on 127.0.0.1:$KS_PORT"
    # setsid: see start_rabbit; no arguments: see gunicorn_conf.
    (cd "$KS_DATA" && setsid "$KS_HOME/bin/gunicorn" >>"$KS_DATA/gunicorn.log" 2>&1)
    for _ in $(seq 1 60); do
        if keystone_up; then log "Keystone $KS_VERSION: up"; provision_keystone; return 0; fi
        sleep 1
    done
    log "Keystone did not start; see $KS_DATA/gunicorn.log and keystone.log"; return 1
}

stop_keystone() {
    [ -n "${NVS_TEST_KEYSTONE_URL:-}" ] && return 0
    local pid; pid=$(keystone_pid) || return 0
    TITLE=Keystone stop_pid "$pid"
}

status_keystone() {
    if keystone_up; then echo "keystone: up ($KS_URL)"; else echo "keystone: down ($KS_URL)"; fi
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
    # Keystone's pip install (minutes, on a new machine) runs while the others start.
    start) installing=
           if [ -z "${NVS_TEST_KEYSTONE_URL:-}" ]; then install_keystone & installing=$!; fi
           start_rabbit; start_engine es; start_engine opensearch
           if [ -n "$installing" ]; then wait "$installing"; fi
           start_keystone ;;
    start-es) start_engine es ;;
    stop-es) stop_engine es ;;
    start-opensearch) start_engine opensearch ;;
    stop-opensearch) stop_engine opensearch ;;
    start-rabbit) start_rabbit ;;
    stop-rabbit) stop_rabbit ;;
    start-keystone) start_keystone ;;
    stop-keystone) stop_keystone ;;
    add-vhost) vhost add "${2:-}" ;;
    delete-vhost) vhost delete "${2:-}" ;;
    dead-letter-policy) dead_letter_policy "${2:-}" "${3:-}" "${4:-}" ;;
    stop) stop_keystone; stop_engine es; stop_engine opensearch; stop_rabbit ;;
    status) rabbit_up && echo "rabbitmq: up" || echo "rabbitmq: down"
            status_engine es; status_engine opensearch; status_keystone ;;
    *) echo "usage: $0 [start|stop|status|start-es|stop-es|start-opensearch|stop-opensearch" \
            "|start-rabbit|stop-rabbit|start-keystone|stop-keystone] | add-vhost|delete-vhost NAME" \
            "| dead-letter-policy VHOST PATTERN EXCHANGE" >&2
       exit 2 ;;
esac
