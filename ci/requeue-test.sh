#!/usr/bin/env bash
# Stopping before the time limit, on a real Slurm cluster (docs/workflow.md, "Stopping before the limit"):
# one mini training segment that cannot finish within its 3-minute limit (ci/requeue-test.yaml) runs
# through `snakemake --profile slurm`, as users run the study. Slurm sends SIGTERM 60-130 s before the limit
# (resources.stop_warning_seconds); the segment saves a partial checkpoint and fails; Snakemake's retry
# (twice the time) resumes it there and finishes. Checked afterwards:
#   - every try but the last ended FAILED by its own exit, before the limit (no TIMEOUT), after logging
#     "SIGTERM received; stopped after step K";
#   - the try after each stop began at step K (its progress bar counts the steps left: 0/(N - K));
#   - the last try COMPLETED, and the loss log holds each of the N steps exactly once.
# The exact equality of a resumed and an uninterrupted run is tested in pytest (tests/training).
#
#   ci/slurm-cluster.sh start && ci/requeue-test.sh; ci/slurm-cluster.sh stop
# PYTHON names the interpreter (default .venv/bin/python); its folder goes first on PATH for the jobs.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
CONFIG=(--configfile presets/mini.yaml ci/requeue-test.yaml)
EXPERIMENT=encoder1
started=$SECONDS

say() { echo "requeue-test: $* ($((SECONDS - started)) s)" >&2; }
fail() { echo "requeue-test: FAILED: $*" >&2; exit 1; }

[[ -x $PYTHON ]] || fail "no interpreter at $PYTHON; set PYTHON to the project's virtual environment's python"
command -v sbatch >/dev/null && sinfo >/dev/null 2>&1 \
    || fail "no Slurm controller answers; start the test cluster with ci/slurm-cluster.sh start"

read -r results steps limit lead < <("$PYTHON" -c 'import sys; from dualinv.config import load_config
config = load_config(presets=tuple(sys.argv[1:]))
assert config.training.iterations == config.training.segment_length, "ci/requeue-test.yaml: one segment"
print(config.output.results, config.training.segment_length, config.resources.train.runtime,
      config.resources.stop_warning_seconds)' presets/mini.yaml ci/requeue-test.yaml)
[[ -n ${lead:-} ]] || fail "could not read ci/requeue-test.yaml on top of presets/mini.yaml"
segment=$results/models/$EXPERIMENT/segments/0.pt
log=$results/logs/train_segment/$EXPERIMENT/0.log
rm -rf "$results"

last_job_before=$(squeue --states=all --noheader --format=%i | sort -n | tail -n 1)
run_log=$results/requeue-test.snakemake.log
mkdir -p "$results"
say "snakemake $segment --profile slurm ($steps steps, $limit-minute limit, SIGTERM $lead s ahead)"
# --show-failed-logs: Snakemake empties a rule's log before each try; this keeps each failed try's log
# in the run's output.
PATH="$(cd "$(dirname "$PYTHON")" && pwd):$PATH" "$PYTHON" -m snakemake "$segment" --profile slurm \
    --workflow-profile ci/slurm-test "${CONFIG[@]}" --show-failed-logs 2>&1 | tee "$run_log" >&2 \
    || fail "snakemake did not build $segment (its output: $run_log)"
test -s "$segment" || fail "no $segment"
test -s "$log" || fail "no log $log"

# The tries of the segment, oldest first: "id state reason runtime limit start end seconds-left".
tries=$(scontrol show job --oneliner | awk -v after="${last_job_before:-0}" '
    / Comment=rule_train_segment_wildcards_'"$EXPERIMENT"'_0( |$)/ {
        for (i = 1; i <= NF; i++) { split($i, pair, "="); value[pair[1]] = substr($i, length(pair[1]) + 2) }
        if (value["JobId"] + 0 > after + 0)
            print value["JobId"], value["JobState"], value["Reason"], value["RunTime"], value["TimeLimit"],
                  value["StartTime"], value["EndTime"], seconds(value["TimeLimit"]) - seconds(value["RunTime"])
    }
    function seconds(clock,    part, count) {  # [D-]HH:MM:SS
        count = split(clock, part, /[-:]/)
        return (count == 4 ? part[1] * 86400 : 0) + part[count - 2] * 3600 + part[count - 1] * 60 + part[count]
    }' | sort -n)
echo "$tries" | awk '{ printf "requeue-test: try: Slurm job %s %s (%s) ran %s of %s, %s-%s, ended %d s before its limit\n",
                         $1, $2, $3, $4, $5, $6, substr($7, 12), $8 }' >&2
count=$(grep -c . <<<"$tries" || true)
((count >= 2)) || fail "the segment ran in $count Slurm job(s); its first try should have been stopped by the signal"
grep -q ' TIMEOUT ' <<<"$tries" && fail "a try was killed at its time limit instead of stopping on the signal"
head -n -1 <<<"$tries" | awk '$2 != "FAILED" || $3 != "NonZeroExitCode" { bad = 1 } END { exit bad }' \
    || fail "every try but the last should have failed by its own exit code"
tail -n 1 <<<"$tries" | awk '$2 == "COMPLETED" { ok = 1 } END { exit !ok }' || fail "the last try did not complete"

# Where each try stopped and where the next began: the failed tries' logs as the run printed them, then
# the last try's log. A try's progress bar counts the steps left (tqdm writes it with carriage returns).
tries_logs=$({ awk -v header="Logfile $log:" '$0 == header { inside = 1; getline; next }
                                              inside && /^=+$/ { inside = 0 } inside' "$run_log"
               cat "$log"; } | tr '\r' '\n')
stops=$(grep -oE 'SIGTERM received; stopped after step [0-9]+' <<<"$tries_logs" | grep -oE '[0-9]+$' || true)
starts=$(grep -oE "$EXPERIMENT \[0:$steps\]: +0%\|[^|]*\| 0/[0-9]+" <<<"$tries_logs" \
    | grep -oE '[0-9]+$' | awk -v steps="$steps" '{ print steps - $1 }' || true)
[[ $(grep -c . <<<"$stops") -eq $((count - 1)) ]] \
    || fail "$((count - 1)) tries failed, but the logs name $(grep -c . <<<"$stops") stops on SIGTERM: $run_log, $log"
[[ $(grep -c . <<<"$starts") -eq $count ]] \
    || fail "$count tries, but $(grep -c . <<<"$starts") progress bars in $run_log and $log"
expected_starts=$(printf '0\n%s\n' "$stops")
[[ $starts == "$expected_starts" ]] \
    || fail "the tries began at steps $(echo $starts) instead of 0 and where the previous stopped ($(echo $stops))"
paste -d' ' <(echo "$starts") <(printf '%s\n' "$stops" "$steps") \
    | awk '{ printf "requeue-test: steps %d to %d\n", $1, $2 }' >&2

rows=$(tail -n +2 "$results/models/$EXPERIMENT/segments/0.losses.csv" | cut -d, -f1 | tr '\n' ' ')
[[ $rows == "$(seq -s ' ' 0 $((steps - 1))) " ]] || fail "the loss log's steps are not 0..$((steps - 1)) once each: $rows"
say "passed: $((count - 1)) stop(s) on the signal, each resumed where it stopped"
