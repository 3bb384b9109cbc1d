"""Print the jobs of a dry-run DAG as JSON (``python dag_jobs.py REPO TARGET [CONFIGFILE...]``), every job
included even when its outputs exist: rule, declared inputs, outputs and params. Run in a subprocess."""

import json
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings

repo, target = Path(sys.argv[1]), sys.argv[2]
configfiles = [Path(path) for path in sys.argv[3:]]
with SnakemakeApi(OutputSettings()) as api:
    workflow_api = api.workflow(resource_settings=ResourceSettings(), config_settings=ConfigSettings(configfiles=configfiles),
                                snakefile=repo / "Snakefile", workdir=repo)
    api.dag = workflow_api.dag(DAGSettings(targets={target}, forceall=True))
    workflow = workflow_api._workflow
    workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True, nolock=True)
    workflow._build_dag()
    jobs = [{"rule": job.rule.name, "input": [str(path) for path in job.input], "output": [str(path) for path in job.output],
             "params": {key: value for key, value in job.params.items()}}
            for job in workflow.dag.jobs]
print("JOBS-JSON " + json.dumps(jobs, default=str))
