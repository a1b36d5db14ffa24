#!/usr/bin/env bash
# Every command works from a non-editable install: builds the wheel, installs it into a
# clean virtualenv (artifacts/wheel-venv, made afresh), and from there
#   * runs `--help` of the app and of every command its entry points name;
#   * finds the package data (the Kibana saved objects) and the installed samples
#     (<venv>/etc/nvs-notif/);
#   * runs the demo (a simulated cloud replayed into SQLite, then the report) with a
#     fixed end time, and checks its output equals the editable install's (.venv).
# Used by tools/run-tests; run it alone after `tools/venv.sh test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
out=artifacts/wheel
venv=artifacts/wheel-venv
rm -rf "$out" "$venv"
mkdir -p "$out"
.venv/bin/pip wheel -q --no-deps -w "$out" . >"$out/build.log" 2>&1 \
    || { cat "$out/build.log" >&2; exit 1; }
# Build leftovers in the source tree would let a later editable run pass for the wheel.
rm -rf build
wheel=$(ls "$out"/nvs_notif-*.whl)
"$PYTHON" -m venv "$venv"
# The editable venv's versions as constraints: both installs run the same libraries, so
# their demo outputs are comparable (and pip has nothing to resolve).
.venv/bin/pip freeze --exclude-editable >"$out/constraints.txt"
"$venv/bin/pip" install -q -c "$out/constraints.txt" "$wheel" >"$out/install.log" 2>&1 \
    || { cat "$out/install.log" >&2; exit 1; }
cmd="$venv/bin/nvs-notif"

# Run from elsewhere: nothing may come from the source tree.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=$PWD
(
    cd "$work"
    "$src/$venv/bin/python" - <<'PY'
import importlib.metadata, pathlib, sys
import nvs_notif, nvs_notif.kibana
assert 'site-packages' in nvs_notif.__file__, nvs_notif.__file__
assert nvs_notif.kibana.load(), 'no Kibana saved objects in the package'
assert nvs_notif.kibana.load(nvs_notif.kibana.OPENSEARCH_DASHBOARDS.file), \
    'no OpenSearch Dashboards saved objects in the package'
eps = importlib.metadata.entry_points(group='nvs_notif.cli')
print('\n'.join(sorted(ep.name for ep in eps)))
samples = pathlib.Path(sys.prefix, 'etc', 'nvs-notif')
for name in ('nvs-notif.conf.sample', 'nvs_pipeline.yaml', 'ceilometer.conf.sample',
             'nvs-notif-api.conf.sample', 'policy.yaml.sample', 'gunicorn.conf.py.sample',
             'uwsgi.ini.sample'):
    assert (samples / name).is_file(), samples / name
PY
) >"$out/commands"
"$cmd" --help >/dev/null 2>"$out/help.log"
"$venv/bin/nvs-notif-api" --help >/dev/null 2>>"$out/help.log" \
    || { cat "$out/help.log" >&2; echo "check-wheel: 'nvs-notif-api --help' failed" >&2; exit 1; }
while read -r name; do
    "$cmd" help "$name" >/dev/null 2>>"$out/help.log" \
        || { cat "$out/help.log" >&2; echo "check-wheel: '$name --help' failed" >&2; exit 1; }
done <"$out/commands"

# The demo, from both installs, with the same end: same answers.
demo() {   # demo BIN STORE
    local end=2026-01-01T00:00:00Z
    (cd "$work" && "$1" --store "sqlite:///$2" replay --simulate "${NVS_WHEEL_DEMO_COUNT:-3000}" \
        --end "$end" -f json -c notifications -c rejected -c duplicates -c spans \
        -c 'spans success' -c 'spans failure' -c 'top failures' \
     && "$1" --store "sqlite:///$2" report --operation compute.instance -f json)
}
demo "$src/$cmd" "$work/wheel.db" >"$out/demo-wheel.json"
demo "$src/.venv/bin/nvs-notif" "$work/editable.db" >"$out/demo-editable.json"
if ! cmp -s "$out/demo-wheel.json" "$out/demo-editable.json"; then
    diff "$out/demo-editable.json" "$out/demo-wheel.json" >&2 || true
    echo "check-wheel: the demo from the wheel differs from the editable install" >&2
    exit 1
fi
echo "check-wheel: $(basename "$wheel"): $(wc -l <"$out/commands") commands' help, package data," \
     "samples in etc/nvs-notif, and the demo output equal to the editable install's"
