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
