import json
import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "observatoire", *args], capture_output=True,
                          text=True)


def test_help_is_french():
    out = run("--help")
    assert out.returncode == 0
    assert "Observatoire territorial" in out.stdout


def test_base_etat_json():
    out = run("base", "etat", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["mode"] == "vide"


def test_unknown_command_fails():
    assert run("nexistepas").returncode != 0


def test_generic_click_texts_are_french():
    out = run("base", "--help")
    assert "Affiche cette aide et quitte." in out.stdout
    assert "Show this message" not in out.stdout
    err = run("base", "etat", "--inconnue")
    assert err.returncode != 0
    assert "Option inconnue" in err.stderr


def test_short_help_table_matches_each_command():
    # L'aide générale lit SHORT_HELP sans importer les commandes : le texte doit rester
    # celui de chaque commande.
    import importlib

    from observatoire.cli import COMMANDS, SHORT_HELP

    for name, (module, attr, *_rest) in COMMANDS.items():
        cmd = getattr(importlib.import_module(module), attr)
        assert SHORT_HELP[name] == cmd.get_short_help_str(limit=500), name


def test_general_help_imports_no_command_module():
    code = ("import sys\nfrom observatoire.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\n"
            "heavy = [m for m in ('pandas', 'sqlalchemy', 'numpy', 'geopandas', 'spacy') "
            "if m in sys.modules]\nprint('LOURDS=' + ','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "LOURDS=\n" in out.stdout or out.stdout.rstrip().endswith("LOURDS=")
    assert "populations" in out.stdout and "contributions" in out.stdout
