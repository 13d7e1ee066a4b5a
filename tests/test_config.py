import pytest

from observatoire.config import load_settings
from observatoire.errors import ConfigurationError


def test_shipped_configuration_describes_pas_de_calais():
    s = load_settings()
    assert s.departement == "62"
    assert s.arrondissements == ("621", "622", "623", "624", "625", "626", "627")
    assert s.seuil_secret == 5
    assert "faits_constates" in s.indicateurs_publies


def test_other_departement_is_configuration(tmp_path):
    cfg = tmp_path / "nord.toml"
    cfg.write_text('[territoire]\nnom = "Nord"\ndepartement = "59"\n[secret]\nseuil = 11\n',
                   encoding="utf-8")
    s = load_settings(cfg)
    assert (s.departement, s.arrondissements, s.seuil_secret) == ("59", (), 11)
    assert s.indicateurs_publies == ()


def test_bad_configuration_is_explained(tmp_path):
    with pytest.raises(ConfigurationError, match="introuvable"):
        load_settings(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[territoire]\nnom = 'x'\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="département"):
        load_settings(bad)
