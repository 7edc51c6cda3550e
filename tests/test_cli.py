"""The command line contract of DESIGN.md: --help everywhere, one clear line on bad input."""
import json
import subprocess
import sys

import pytest

from influencer_gan import cli

SUBCOMMANDS = ["make-data", "train", "stylize", "generate", "evaluate", "export"]


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_help_for_every_subcommand(sub, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main([sub, "--help"])
    assert e.value.code == 0
    assert "usage: influencer-gan " + sub in capsys.readouterr().out


def test_python_dash_m_help():
    r = subprocess.run([sys.executable, "-m", "influencer_gan", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and all(s in r.stdout for s in SUBCOMMANDS)


def _one_line_error(argv, capsys, code=2):
    rc = None
    try:
        rc = cli.main(argv)
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err.strip()
    assert rc == code, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_bad_arguments_give_one_line(capsys):
    assert "invalid int value" in _one_line_error(["train", "looks", "--steps", "many"], capsys)
    assert "--look" in _one_line_error(["stylize", "a.png", "--out", "o"], capsys)
    assert "invalid choice" in _one_line_error(["train", "cats"], capsys)


def test_bad_files_and_values_name_the_problem(tmp_path, capsys):
    err = _one_line_error(["train", "looks", "--config", str(tmp_path / "nope.json")], capsys)
    assert "nope.json" in err
    (tmp_path / "bad.json").write_text("{not json")
    assert "bad.json" in _one_line_error(["train", "looks", "--config", str(tmp_path / "bad.json")], capsys)
    err = _one_line_error(["train", "looks", "--content", str(tmp_path / "mine"), "--styled", str(tmp_path)], capsys)
    assert "mine" in err
    err = _one_line_error(["generate", "--out", str(tmp_path), "--attr", "hair"], capsys)
    assert "KEY=VALUE" in err
    err = _one_line_error(["stylize", "x.png", "--out", str(tmp_path), "--look", "noir",
                           "--checkpoint", str(tmp_path / "missing")], capsys)
    assert "missing" in err


def test_config_file_and_flags(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"steps": 7, "ngf": 8}))
    args = cli.build_parser().parse_args(["train", "looks", "--config", str(tmp_path / "c.json"),
                                          "--steps", "3", "--out", str(tmp_path / "r")])
    cfg = cli.train_config_from_args(args)
    assert (cfg.steps, cfg.ngf, cfg.out) == (3, 8, str(tmp_path / "r"))


def test_train_then_evaluate_smoke(tmp_path, capsys):
    """make test runs `evaluate` end to end on a tiny budget (a smoke test, not the targets)."""
    cfg = {"steps": 1, "batch_size": 2, "image_size": 32, "style_dim": 8, "ngf": 8, "n_blocks": 1,
           "work_size": 32, "ndf": 8, "d_layers": 2, "refs": 2, "sample_every": 0, "device": "cpu",
           "out": str(tmp_path / "run")}
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    assert cli.main(["train", "looks", "--config", str(tmp_path / "c.json"), "--no-progress"]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", "looks", "--checkpoint", str(tmp_path / "run"), "--quick", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["task"] == "looks"
