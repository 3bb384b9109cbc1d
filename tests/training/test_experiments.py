import pytest

from dualinv.errors import ConfigError
from dualinv.models.experiments import EXPERIMENTS, get_experiment


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


def _table4_rows():
    return {row.split(":", 1)[1]: experiment for experiment in EXPERIMENTS.values()
            for row in experiment.feeds if row.startswith("T4:")}


def test_table4_wplus_rows_differ_from_encoder1_only_in_training_data():
    rows = _table4_rows()
    encoder1 = get_experiment("encoder1")
    wplus_rows = [rows["Real img. / W+"], rows["Z+ gens. / W+"], rows["Real imgs. + Z+ / W+"]]
    assert wplus_rows[2] is encoder1
    for experiment in wplus_rows:
        assert (experiment.kind, experiment.latent, experiment.feature_stage, experiment.discriminator) == \
            (encoder1.kind, encoder1.latent, encoder1.feature_stage, encoder1.discriminator)
    assert [experiment.training_data for experiment in wplus_rows] == ["real", "zplus", "real+zplus"]


def test_table4_latent_rows_are_latent_only_encoders_on_real_images():
    rows = _table4_rows()
    for row, latent in (("Real img. / Z", "z"), ("Real img. / Z+", "z+")):
        assert (rows[row].latent, rows[row].feature_stage, rows[row].training_data) == (latent, False, "real")
