import pytest

from dualinv.errors import ConfigError
from dualinv.training.experiments import EXPERIMENTS, get_experiment


def test_every_paper_table_is_fed():
    fed_tables = {row.split(":")[0] for experiment in EXPERIMENTS.values() for row in experiment.feeds}
    assert fed_tables == {"T1", "T2", "T3", "T4", "T5"}


def test_table3_has_its_four_rows_and_table4_its_five():
    rows = [row for experiment in EXPERIMENTS.values() for row in experiment.feeds]
    assert len([row for row in rows if row.startswith("T3:")]) == 4
    assert len([row for row in rows if row.startswith("T4:")]) == 5


def test_dual_is_assembled_from_both_encoders():
    dual = get_experiment("dual")
    assert dual.components == ("encoder1", "encoder2") and not dual.trains
    assert get_experiment("encoder2").discriminator == "triplane_occlusion"
    assert get_experiment("encoder1").discriminator == "none"


def test_unknown_experiment_lists_the_valid_names():
    with pytest.raises(ConfigError, match="encoder1"):
        get_experiment("encoder3")
