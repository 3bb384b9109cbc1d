#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine (slurmctld + slurmd + munge, two fake GPUs), for
# testing `snakemake --profile slurm` (specs/snakemake-slurm.md). Needs root and apt; no systemd.
#   ci/slurm-cluster.sh start    install the packages if missing, write the config, start the daemons
#   ci/slurm-cluster.sh stop     stop the daemons by their pid files
#   ci/slurm-cluster.sh purge    stop, then uninstall the packages: Slurm client binaries left on PATH
#                                without a controller add ~10 s to every snakemake call
set -euo pipefail

PACKAGES=(slurmctld slurmd slurm-client munge)
CONF_DIR=/etc/slurm
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid
FAKE_GPUS=2

say() { echo "slurm-cluster: $*" >&2; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
        return
    fi
    say "installing ${PACKAGES[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -qq
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
}

start_munge() {
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    install -d -o munge -g munge -m 755 /run/munge
    runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PID"
    munge -n | unmunge >/dev/null
}

write_config() {
    local host node_line memory
    host=$(hostname -s)
    # `slurmd -C` prints this machine's node line; keep ~90% of its memory for jobs.
    node_line=$(slurmd -C | head -n 1)
    memory=$(sed -E 's/.*RealMemory=([0-9]+).*/\1/' <<<"$node_line")
    node_line=$(sed -E "s/RealMemory=[0-9]+/RealMemory=$((memory * 9 / 10))/" <<<"$node_line")
    install -d "$CONF_DIR" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    : >"$CONF_DIR/gres.conf"
    for ((index = 0; index < FAKE_GPUS; index++)); do
        [[ -e /dev/fakegpu$index ]] || mknod /dev/fakegpu$index c 1 3  # like /dev/null; slurmd needs a File=
        echo "NodeName=$host Name=gpu Type=fake File=/dev/fakegpu$index" >>"$CONF_DIR/gres.conf"
    done
    # MinJobAge: finished jobs stay known for an hour, so CI can read what each job asked for (scontrol)
    # and squeue-based status checks (>= 3 x slurm-init-seconds-before-status-checks) keep working.
    cat >"$CONF_DIR/slurm.conf" <<CONF
ClusterName=dualinv-test
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=3600
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
GresTypes=gpu
$node_line Gres=gpu:fake:$FAKE_GPUS State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

wait_for_idle() {
    for _ in $(seq 1 60); do
        if sinfo --noheader --format=%T 2>/dev/null | grep -qx idle; then
            return 0
        fi
        sleep 0.5
    done
    say "the node did not become idle; see /var/log/slurm/"
    sinfo >&2 || true
    return 1
}

stop_by_pid_file() {
    local pid_file=$1 pid
    [[ -s $pid_file ]] || return 0
    pid=$(cat "$pid_file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        kill -0 "$pid" 2>/dev/null && say "pid $pid from $pid_file did not stop"
    fi
    rm -f "$pid_file"
}

case "${1:-}" in
start)
    [[ $(id -u) -eq 0 ]] || { say "start needs root"; exit 1; }
    install_packages
    [[ -s $CTLD_PID ]] && kill -0 "$(cat "$CTLD_PID")" 2>/dev/null && { say "already running"; exit 0; }
    start_munge
    write_config
    /usr/sbin/slurmctld
    /usr/sbin/slurmd
    wait_for_idle
    say "up: $(sinfo --noheader --format='%P %D %T %G' | tr '\n' ' ')"
    ;;
stop)
    stop_by_pid_file "$SLURMD_PID"
    stop_by_pid_file "$CTLD_PID"
    stop_by_pid_file "$MUNGE_PID"
    say "stopped"
    ;;
purge)
    "$0" stop
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 remove -y -qq "${PACKAGES[@]}" >/dev/null
    say "packages removed"
    ;;
*)
    echo "usage: $0 start|stop|purge" >&2
    exit 2
    ;;
esac
