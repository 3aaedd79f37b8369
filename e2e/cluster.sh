#!/usr/bin/env bash
# Local Kubernetes control plane for sextant's end-to-end tests.
#
#   e2e/cluster.sh up       start (or reuse) the cluster; last line of stdout = kubeconfig path
#   e2e/cluster.sh down     stop the processes recorded in pid files, delete the state dir
#   e2e/cluster.sh status   print each process's state and apiserver health (non-zero if unhealthy)
#   e2e/cluster.sh kubeconfig   print the kubeconfig path (starts nothing)
#
# Local mode (default) runs etcd + kube-apiserver + kube-controller-manager 1.20.2 on
# loopback ports, plus the simulated kubelet when its binary exists. Binaries come from
# scripts/tools.sh (version-keyed cache). Everything lives in the state directory:
#
#   ${SEXTANT_E2E_DIR:-<repo>/.e2e}/
#     kubeconfig         admin (client cert, group system:masters)
#     pki/               CA, serving/client certs, service-account key pair
#     data/etcd/         etcd data
#     logs/NAME.log      one log per process
#     logs/audit.log     kube-apiserver audit log: Metadata of every request made by a
#                        ServiceAccount outside kube-system (JSON lines; see write_audit_policy)
#     audit-policy.yaml  the audit policy
#     run/NAME.pid       one pid file per process started by this script
#     env                ports and URLs (shell syntax)
#
# Environment:
#   SEXTANT_E2E_CLUSTER=external   use the current KUBECONFIG; start and stop nothing
#   SEXTANT_E2E_DIR                state directory (default <repo>/.e2e)
#   SIM_KUBELET_BIN                simulated kubelet (default $CARGO_TARGET_DIR/debug/sim-kubelet)
#   CARGO_TARGET_DIR               default $HOME/.cache/sextant/target
#   SEXTANT_E2E_TIMEOUT            seconds to wait for each start-up step (default 120)
#   SEXTANT_E2E_CONTROLLERS        kube-controller-manager --controllers override
#   SEXTANT_E2E_SERVICE_CIDR       --service-cluster-ip-range (default 10.96.0.0/16; virtual, nothing routes there)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TOOLS_SH="$ROOT/scripts/tools.sh"

MODE=${SEXTANT_E2E_CLUSTER:-local}
STATE=${SEXTANT_E2E_DIR:-$ROOT/.e2e}
[[ $STATE == /* ]] || STATE="$PWD/$STATE"
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/sextant/target}
SIM_KUBELET_BIN=${SIM_KUBELET_BIN:-$CARGO_TARGET_DIR/debug/sim-kubelet}
SIM_NODE_NAME=sextant-sim-node
# A second simulated node, tainted as GPU nodes are, so that DaemonSets and tolerations
# are tested: ordinary pods never land there (e2e/src/kubelet/schedule.rs).
SIM_TAINTED_NODE=sextant-sim-gpu
SIM_TAINT="$SIM_TAINTED_NODE:nvidia.com/gpu=present:NoSchedule"
# The label config/samples/production.yaml's node selector asks for, so that the
# upgrade test (e2e/tests/upgrade.rs) can run that sample unchanged.
SIM_LABEL="$SIM_NODE_NAME:node-role.example.com/observability=true"
TIMEOUT=${SEXTANT_E2E_TIMEOUT:-120}
SERVICE_CIDR=${SEXTANT_E2E_SERVICE_CIDR:-10.96.0.0/16}
CONTROLLERS=${SEXTANT_E2E_CONTROLLERS:-garbagecollector,namespace,deployment,replicaset,statefulset,daemonset,horizontalpodautoscaling,serviceaccount,serviceaccount-token,endpoint,persistentvolume-binder}
CLUSTER_NAME=sextant-e2e

MARKER="$STATE/.sextant-e2e"
KUBECONFIG_OUT="$STATE/kubeconfig"
PKI="$STATE/pki"
AUDIT_POLICY="$STATE/audit-policy.yaml"
RUN="$STATE/run"
LOGS="$STATE/logs"
CORE=(etcd kube-apiserver kube-controller-manager)
ALL=(etcd kube-apiserver kube-controller-manager sim-kubelet)

log() { printf 'cluster.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

tools() {
  "$TOOLS_SH" install >&2 || die "scripts/tools.sh install failed"
  eval "$("$TOOLS_SH" env)"
}

# ---------------------------------------------------------------- processes

# pid_of NAME : prints the recorded pid if that process is alive and was started by
# this cluster (its environment carries this cluster's id); fails otherwise.
pid_of() {
  local f="$RUN/$1.pid" pid id
  [[ -f $f && -f $STATE/id ]] || return 1
  pid=$(<"$f")
  id=$(<"$STATE/id")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # A recycled pid would not carry our id.
  local env
  env=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null) || return 1
  [[ $'\n'$env$'\n' == *$'\n'"SEXTANT_E2E_ID=$id"$'\n'* ]] || return 1
  # A zombie is as good as dead.
  [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] || return 1
  echo "$pid"
}

# start_proc NAME BIN ARGS... : run detached (own session, no tty, stdio to the log)
start_proc() {
  local name=$1 pid
  shift
  log "starting $name (log: $LOGS/$name.log)"
  SEXTANT_E2E_ID=$(<"$STATE/id") setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$RUN/$name.pid"
}

stop_all() {
  local name pid pids=() i
  for ((i = ${#ALL[@]} - 1; i >= 0; i--)); do
    name=${ALL[i]}
    if pid=$(pid_of "$name"); then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  local deadline=$((SECONDS + 15))
  for pid in ${pids[@]+"${pids[@]}"}; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid did not exit after TERM; sending KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  # wait for KILLed ones to be gone
  for pid in ${pids[@]+"${pids[@]}"}; do
    while kill -0 "$pid" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; do
      sleep 0.1
    done
  done
  rm -f "$RUN"/*.pid 2>/dev/null || true
}

# ---------------------------------------------------------------- helpers

# free_port VAR : set VAR to a loopback TCP port that nothing uses (and that no earlier
# call handed out), below the ephemeral range.
USED_PORTS=" "
free_port() {
  local lo=20000 hi=32000 p tries=0 busy
  busy=" $(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u | tr '\n' ' ') "
  while ((tries++ < 200)); do
    p=$((lo + RANDOM % (hi - lo)))
    [[ "$busy$USED_PORTS" == *" $p "* ]] && continue
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then continue; fi
    USED_PORTS+="$p "
    printf -v "$1" '%s' "$p"
    return 0
  done
  die "no free port found"
}

# wait_until DESC PROC_NAME CMD... : retry CMD until it succeeds, while PROC_NAME lives
wait_until() {
  local desc=$1 proc=$2 deadline=$((SECONDS + TIMEOUT))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ! pid_of "$proc" >/dev/null; then
      tail -n 30 "$LOGS/$proc.log" >&2 || true
      die "$proc exited while waiting for $desc (log: $LOGS/$proc.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$LOGS/$proc.log" >&2 || true
      die "timed out after ${TIMEOUT}s waiting for $desc (log: $LOGS/$proc.log)"
    fi
    sleep 0.5
  done
}

kc() { kubectl --kubeconfig "$KUBECONFIG_OUT" --request-timeout=5s "$@"; }

apiserver_ready() { [[ $(kc get --raw /readyz 2>/dev/null) == ok ]]; }

etcd_healthy() {
  local out
  out=$(curl -fsS --max-time 5 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null) || return 1
  [[ $out == *'"health":"true"'* ]]
}

default_sa_ready() {
  # the ServiceAccount exists and the token controller has given it a token secret
  [[ -n $(kc -n default get serviceaccount default -o 'jsonpath={.secrets[0].name}' 2>/dev/null) ]]
}

load_env() {
  [[ -f $STATE/env ]] || return 1
  # shellcheck disable=SC1091
  source "$STATE/env"
}

need_cmds() {
  local c missing=()
  for c in "$@"; do command -v "$c" >/dev/null || missing+=("$c"); done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]} (apt)"
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
    { "${sudo[@]}" apt-get update -q >&2 &&
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; } ||
    die "cannot install ${missing[*]}"
}

# One up/down at a time per state dir (flock held until exit; the processes started
# below close the lock's fd so they never hold it).
lock() {
  local f
  f="${TMPDIR:-/tmp}/sextant-e2e.$(printf '%s' "$STATE" | cksum | cut -d' ' -f1).lock"
  exec 8>>"$f"
  flock 8
}

# ---------------------------------------------------------------- audit

# The audit policy: Metadata (who, verb, resource, namespace, name, response code) of
# every request made with a ServiceAccount token, except kube-system's (the
# controller-manager's own controllers), so tests can compare what an operator's
# ServiceAccount really calls with the RBAC rules it was granted. Nothing else is logged.
write_audit_policy() {
  cat >"$AUDIT_POLICY.tmp" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  userGroups: ["system:serviceaccounts:kube-system"]
- level: Metadata
  userGroups: ["system:serviceaccounts"]
- level: None
EOF
  mv "$AUDIT_POLICY.tmp" "$AUDIT_POLICY"
}

# ---------------------------------------------------------------- certificates

pki() {
  mkdir -p "$PKI"
  (
    cd "$PKI"
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=sextant-e2e-ca" 2>/dev/null
    # name, subject, extendedKeyUsage, subjectAltName (optional)
    sign() {
      local name=$1 subj=$2 eku=$3 san=${4:-}
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj" 2>/dev/null
      {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=$eku"
        [[ -z $san ]] || echo "subjectAltName=$san"
      } >"$name.ext"
      openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$name.ext" -out "$name.crt" 2>/dev/null
      rm -f "$name.csr" "$name.ext"
    }
    local first_ip
    first_ip=$(first_service_ip "$SERVICE_CIDR")
    sign apiserver "/CN=kube-apiserver" serverAuth \
      "IP:127.0.0.1,IP:$first_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    sign admin "/O=system:masters/CN=sextant-admin" clientAuth
    sign controller-manager "/CN=system:kube-controller-manager" clientAuth
    # front-proxy (request-header) CA: lets aggregated API servers authenticate the
    # apiserver, and keeps the controller-manager from complaining that it is missing
    mkdir -p front-proxy
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout front-proxy/ca.key -out front-proxy/ca.crt \
      -days 3650 -subj "/CN=sextant-e2e-front-proxy-ca" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout front-proxy-client.key -out front-proxy-client.csr \
      -subj "/CN=front-proxy-client" 2>/dev/null
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' \
      >front-proxy-client.ext
    openssl x509 -req -in front-proxy-client.csr -CA front-proxy/ca.crt -CAkey front-proxy/ca.key \
      -CAcreateserial -days 3650 -extfile front-proxy-client.ext -out front-proxy-client.crt 2>/dev/null
    rm -f front-proxy-client.csr front-proxy-client.ext
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

first_service_ip() {
  local net=${1%/*} a b c d
  IFS=. read -r a b c d <<<"$net"
  echo "$a.$b.$c.$((d + 1))"
}

# write_kubeconfig FILE CERT_BASENAME USER
write_kubeconfig() (
  local file=$1 cert=$2 user=$3
  umask 077
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $CLUSTER_NAME
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$cert.crt")
    client-key-data: $(base64 -w0 <"$PKI/$cert.key")
contexts:
- name: $CLUSTER_NAME
  context:
    cluster: $CLUSTER_NAME
    user: $user
    namespace: default
current-context: $CLUSTER_NAME
EOF
)

# ---------------------------------------------------------------- sim-kubelet

ensure_sim_kubelet() {
  local pid
  if [[ ! -x $SIM_KUBELET_BIN ]]; then
    log "warning: simulated kubelet not found at $SIM_KUBELET_BIN (build it, or set SIM_KUBELET_BIN); pods will stay Pending"
    return 0
  fi
  if pid=$(pid_of sim-kubelet); then
    # restart it when the binary was rebuilt after it started
    if [[ $SIM_KUBELET_BIN -nt $RUN/sim-kubelet.pid ]]; then
      log "sim-kubelet binary is newer than the running process; restarting it"
      kill -TERM "$pid" 2>/dev/null || true
      local deadline=$((SECONDS + 10))
      while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true
    else
      return 0
    fi
  fi
  start_proc sim-kubelet "$SIM_KUBELET_BIN" --kubeconfig "$KUBECONFIG_OUT" \
    --node-name "$SIM_NODE_NAME" --node-name "$SIM_TAINTED_NODE" --taint "$SIM_TAINT" \
    --label "$SIM_LABEL"
  sleep 1
  if ! pid_of sim-kubelet >/dev/null; then
    tail -n 20 "$LOGS/sim-kubelet.log" >&2 || true
    log "warning: sim-kubelet exited right after start (log: $LOGS/sim-kubelet.log)"
  fi
}

# ---------------------------------------------------------------- commands

core_healthy() {
  local n
  [[ -f $MARKER && -f $KUBECONFIG_OUT ]] || return 1
  # A cluster started by an older cluster.sh has no audit log: recreate it.
  [[ -f $AUDIT_POLICY ]] || return 1
  for n in "${CORE[@]}"; do pid_of "$n" >/dev/null || return 1; done
  apiserver_ready
}

remove_state() {
  [[ -e $STATE ]] || return 0
  if [[ ! -f $MARKER ]]; then
    [[ -z $(ls -A "$STATE" 2>/dev/null) ]] || die "$STATE exists but was not made by cluster.sh; not touching it"
  fi
  rm -rf "$STATE"
}

cmd_up() {
  local t0=$SECONDS
  if [[ $MODE == external ]]; then
    external_up
    return
  fi
  [[ $MODE == local ]] || die "SEXTANT_E2E_CLUSTER must be 'local' or 'external', not '$MODE'"
  tools
  if core_healthy; then
    log "cluster already running and healthy ($STATE)"
    load_env || true
    ensure_sim_kubelet
    echo "$KUBECONFIG_OUT"
    return 0
  fi
  if [[ -e $STATE ]]; then
    if [[ -f $MARKER && ! -f $AUDIT_POLICY ]]; then
      log "the cluster in $STATE was started without audit logging (older cluster.sh); recreating it"
    else
      log "found a stopped or unhealthy cluster in $STATE; recreating it"
    fi
    [[ -f $MARKER ]] && stop_all
    remove_state
  fi
  need_cmds openssl curl

  mkdir -p "$STATE" "$RUN" "$LOGS" "$STATE/data"
  touch "$MARKER"
  # A failed start stops what it started; the state dir stays for its logs.
  trap 'rc=$?; if ((rc)); then log "start failed; stopping what was started (logs stay in $LOGS)"; stop_all; fi' EXIT
  od -An -N8 -tx1 /dev/urandom | tr -d ' \n' >"$STATE/id"

  free_port ETCD_PORT
  free_port ETCD_PEER_PORT
  free_port API_PORT
  free_port KCM_PORT
  cat >"$STATE/env" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
API_PORT=$API_PORT
KCM_PORT=$KCM_PORT
APISERVER_URL=https://127.0.0.1:$API_PORT
KUBECONFIG=$KUBECONFIG_OUT
EOF

  log "generating certificates in $PKI"
  pki
  write_kubeconfig "$KUBECONFIG_OUT" admin sextant-admin
  write_kubeconfig "$STATE/controller-manager.kubeconfig" controller-manager system:kube-controller-manager
  write_audit_policy

  start_proc etcd "$(command -v etcd)" \
    --name sextant-e2e \
    --data-dir "$STATE/data/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "sextant-e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster-state new \
    --snapshot-count 10000 \
    --quota-backend-bytes $((2 * 1024 * 1024 * 1024))
  wait_until "etcd health" etcd etcd_healthy

  # Admission: the defaults, less the plugins that need controllers or nodes that this
  # cluster does not run (pvc-protection, node lifecycle).
  start_proc kube-apiserver "$(command -v kube-apiserver)" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 \
    --secure-port "$API_PORT" \
    --advertise-address 127.0.0.1 \
    --endpoint-reconciler-type none \
    --tls-cert-file "$PKI/apiserver.crt" \
    --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --requestheader-client-ca-file "$PKI/front-proxy/ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User \
    --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" \
    --proxy-client-key-file "$PKI/front-proxy-client.key" \
    --authorization-mode Node,RBAC \
    --service-account-key-file "$PKI/sa.pub" \
    --service-account-signing-key-file "$PKI/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --enable-admission-plugins NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultTolerationSeconds,DefaultStorageClass,PersistentVolumeClaimResize,RuntimeClass,Priority,MutatingAdmissionWebhook,ValidatingAdmissionWebhook,ResourceQuota \
    --disable-admission-plugins StorageObjectInUseProtection,TaintNodesByCondition \
    --allow-privileged=true \
    --audit-policy-file "$AUDIT_POLICY" \
    --audit-log-path "$LOGS/audit.log" \
    --audit-log-format json \
    --profiling=false
  wait_until "kube-apiserver /readyz" kube-apiserver apiserver_ready

  start_proc kube-controller-manager "$(command -v kube-controller-manager)" \
    --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 \
    --secure-port "$KCM_PORT" \
    --port 0 \
    --cert-dir "$PKI/controller-manager-serving" \
    --controllers "$CONTROLLERS" \
    --root-ca-file "$PKI/ca.crt" \
    --service-account-private-key-file "$PKI/sa.key" \
    --use-service-account-credentials=true \
    --cluster-name "$CLUSTER_NAME" \
    --leader-elect=false \
    --profiling=false
  wait_until "ServiceAccount default/default and its token" kube-controller-manager default_sa_ready

  trap - EXIT
  ensure_sim_kubelet
  log "cluster up in $((SECONDS - t0)) s: https://127.0.0.1:$API_PORT"
  echo "$KUBECONFIG_OUT"
}

cmd_down() {
  if [[ $MODE == external ]]; then
    log "SEXTANT_E2E_CLUSTER=external: nothing to stop"
    return 0
  fi
  if [[ ! -e $STATE ]]; then
    log "no cluster state at $STATE; nothing to do"
    return 0
  fi
  [[ -f $MARKER ]] && stop_all
  remove_state
  log "cluster stopped and $STATE removed"
}

cmd_status() {
  if [[ $MODE == external ]]; then
    tools
    local cfg=${KUBECONFIG:-$HOME/.kube/config}
    echo "mode: external (KUBECONFIG=$cfg)"
    if external_ready; then echo "apiserver: ok"; else echo "apiserver: NOT ready"; return 1; fi
    return 0
  fi
  local rc=0 name pid
  echo "state: $STATE"
  if [[ ! -f $MARKER ]]; then
    echo "cluster: not created"
    return 1
  fi
  load_env || true
  eval "$("$TOOLS_SH" env)"
  for name in "${ALL[@]}"; do
    if pid=$(pid_of "$name"); then
      printf '%-24s running (pid %s)\n' "$name" "$pid"
    elif [[ -f $RUN/$name.pid ]]; then
      printf '%-24s STOPPED (was pid %s; log %s)\n' "$name" "$(<"$RUN/$name.pid")" "$LOGS/$name.log"
      rc=1
    elif [[ $name == sim-kubelet && ! -x $SIM_KUBELET_BIN ]]; then
      printf '%-24s not started (no binary at %s)\n' "$name" "$SIM_KUBELET_BIN"
    elif [[ $name == sim-kubelet ]]; then
      printf '%-24s not started (binary %s appeared later: run "up" again to start it)\n' "$name" "$SIM_KUBELET_BIN"
    else
      printf '%-24s not started\n' "$name"
      rc=1
    fi
  done
  if [[ -n ${API_PORT:-} ]] && apiserver_ready; then
    echo "apiserver: ok (https://127.0.0.1:$API_PORT/readyz)"
  else
    echo "apiserver: NOT ready"
    rc=1
  fi
  echo "kubeconfig: $KUBECONFIG_OUT"
  return $rc
}

external_ready() {
  local out
  out=$(kubectl --request-timeout=10s get --raw /readyz 2>/dev/null) && [[ $out == ok ]] && return 0
  out=$(kubectl --request-timeout=10s get --raw /healthz 2>/dev/null) && [[ $out == ok ]]
}

external_up() {
  tools
  local cfg=${KUBECONFIG:-$HOME/.kube/config}
  external_ready || die "the cluster of KUBECONFIG=$cfg is not ready (/readyz and /healthz failed)"
  log "using the external cluster of KUBECONFIG=$cfg"
  echo "$cfg"
}

main() {
  case ${1:-} in
    up) lock; cmd_up ;;
    down) lock; cmd_down ;;
    status) cmd_status ;;
    kubeconfig)
      if [[ $MODE == external ]]; then echo "${KUBECONFIG:-$HOME/.kube/config}"; else echo "$KUBECONFIG_OUT"; fi
      ;;
    *)
      sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
      exit 2
      ;;
  esac
}

main "$@"
