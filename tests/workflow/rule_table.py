"""Print the workflow's rules as JSON (run in a subprocess: ``python rule_table.py REPO [CONFIGFILE...]``).

Loading the Snakefile in-process would leave Snakemake's logging state in the pytest process.
"""

import json
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

repo = Path(sys.argv[1])
configfiles = [Path(path) for path in sys.argv[2:]]
with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(resource_settings=ResourceSettings(), config_settings=ConfigSettings(configfiles=configfiles),
                            snakefile=repo / "Snakefile", workdir=repo)
    rules = {
        rule.name: {
            "has_action": not rule.norun,
            "log": [str(item) for item in rule.log],
            "benchmark": str(rule.benchmark) if rule.benchmark else None,
            "conda": str(Path(rule.basedir) / rule.conda_env) if rule.conda_env else None,
            "script": str(Path(rule.basedir) / rule.script) if rule.script else None,
            "threads": rule.resources["_cores"].value if "_cores" in rule.resources else None,
            "docstring": rule.docstring,
            "localrule": rule.name in workflow._workflow._localrules,
            "resources": {key: value.value for key, value in rule.resources.items()
                          if key in ("mem_mb", "runtime", "slurm_extra") and not value.is_evaluable()},
        }
        for rule in workflow._workflow.rules
    }
print("RULES-JSON " + json.dumps(rules))
