"""The command line contract of DESIGN.md: --help everywhere, one clear line on bad input."""
import io
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


def _photo(path, size, seed=0):
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def test_output_names_never_collide():
    names = cli.output_names(["a/photo.jpg", "a/photo.png", "b/photo.jpg", "a/photo.jpg", "c/other.png",
                              "c/Photo_JPG.png", "d/OTHER.webp"])
    assert len({n.casefold() for n in names}) == len(names)
    assert names[:3] == ["photo_jpg.png", "photo_png.png", "photo_jpg-2.png"]
    assert names[4] == "other_png.png" and names[6] == "OTHER_webp.png"
    assert cli.output_names(["x/cat.jpg", "y/dog.jpg"]) == ["cat.png", "dog.png"]


def test_stylize_two_inputs_with_one_stem_give_two_files(tmp_path, capsys):
    """`stylize a/photo.jpg a/photo.png b/photo.jpg` used to write st/photo.png three times."""
    from conftest import tiny_model
    tiny_model(tmp_path / "model")
    for folder, ext, size in (("a", "jpg", (40, 30)), ("a", "png", (50, 36)), ("b", "jpg", (60, 44))):
        (tmp_path / folder).mkdir(exist_ok=True)
        _photo(tmp_path / folder / f"photo.{ext}", size)
    inputs = [str(tmp_path / p) for p in ("a/photo.jpg", "a/photo.png", "b/photo.jpg")]
    assert cli.main(["stylize", *inputs, "--out", str(tmp_path / "st"), "--look", "noir",
                     "--checkpoint", str(tmp_path / "model")]) == 0
    from PIL import Image
    written = sorted(p.name for p in (tmp_path / "st").iterdir())
    assert written == ["photo_jpg-2.png", "photo_jpg.png", "photo_png.png"]
    sizes = {n: Image.open(tmp_path / "st" / n).size for n in written}    # each output is its own input's
    assert sizes == {"photo_jpg.png": (40, 30), "photo_png.png": (50, 36), "photo_jpg-2.png": (60, 44)}
    assert capsys.readouterr().out.split() == [str(tmp_path / "st" / n) for n in
                                               ("photo_jpg.png", "photo_png.png", "photo_jpg-2.png")]


def test_out_of_range_slider_is_one_clear_line(tmp_path, capsys):
    for flag, value in (("--vivid", "7"), ("--warmth", "-1.5"), ("--strength", "2"), ("--strength", "nan")):
        err = _one_line_error(["stylize", "a.png", "--out", str(tmp_path), "--look", "noir", flag, value], capsys)
        assert f"argument {flag}" in err and "out of range" in err, err
    assert "-1 to 1" in _one_line_error(["stylize", "a.png", "--out", str(tmp_path), "--look", "noir",
                                         "--vivid", "7"], capsys)
    from conftest import tiny_model
    from PIL import Image
    model = tiny_model(tmp_path / "model")
    with pytest.raises(ValueError, match="vivid=7 is out of range"):
        model.stylize(Image.new("RGB", (8, 8)), look="noir", vivid=7)
    model.stylize(Image.new("RGB", (8, 8)), look="noir", vivid=-1, warmth=1, strength=0)   # the ends are fine


def test_warnings_are_one_clean_line_each(tmp_path, capsys):
    """`train looks --content --styled` on folders with bad files: the CLI says so in one line
    per problem, without Python's `file.py:686: ImageDataWarning:` prefix or a source echo,
    and says how many images it used."""
    for name, n in (("mine", 2), ("feed", 3)):
        (tmp_path / name / "old").mkdir(parents=True)
        for i in range(n):
            _photo(tmp_path / name / ("old" if i == 0 else ".") / f"p{i}.jpg", (80, 70), seed=i)
    (tmp_path / "feed" / "old" / "notes.txt").write_text("captions")
    (tmp_path / "feed" / "broken.jpg").write_text("not a picture")
    cfg = {"steps": 1, "batch_size": 2, "image_size": 32, "style_dim": 8, "ngf": 8, "n_blocks": 1,
           "work_size": 32, "ndf": 8, "d_layers": 2, "refs": 2, "sample_every": 0, "device": "cpu",
           "out": str(tmp_path / "run")}
    (tmp_path / "c.json").write_text(json.dumps(cfg))
    assert cli.main(["train", "looks", "--config", str(tmp_path / "c.json"), "--no-progress",
                     "--content", str(tmp_path / "mine"), "--styled", str(tmp_path / "feed")]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if "files used" in line]
    assert len(lines) == 1, captured.err                        # the content folder had no problem
    assert lines[0].startswith("influencer-gan train: warning: ") and "feed: 3 of 5 files used" in lines[0]
    assert "old/notes.txt (not an image file type (.txt))" in lines[0] and "broken.jpg (not an image" in lines[0]
    assert "ImageDataWarning" not in captured.err and ".py:" not in captured.err
    assert all(line.startswith("influencer-gan train: ") for line in captured.err.splitlines())
    assert "mine: 2 of 2 files used" in captured.out and "feed: 3 of 5 files used" in captured.out
    assert "compare with" not in captured.out                   # trained from scratch: nothing to compare
    # fine-tuning a model on the feed: the CLI says how to compare it with the model it started from
    (tmp_path / "t.json").write_text(json.dumps({**cfg, "init": str(tmp_path / "run"), "out": str(tmp_path / "tuned")}))
    assert cli.main(["train", "looks", "--config", str(tmp_path / "t.json"), "--no-progress",
                     "--content", str(tmp_path / "mine"), "--styled", str(tmp_path / "feed")]) == 0
    out = capsys.readouterr().out
    assert "compare with the starting model reading the same posts without training" in out
    assert f"--reference {tmp_path / 'feed'}" in out and f"--checkpoint {tmp_path / 'run'}" in out
    import warnings
    assert getattr(warnings.showwarning, "__module__", None) != cli.__name__   # restored afterwards
    buf = io.StringIO()
    cli._warning_line("stylize")("two\nlines  here", UserWarning, "x.py", 686, file=buf)
    assert buf.getvalue() == "influencer-gan stylize: warning: two lines here\n"


def test_stylize_names_an_unreadable_file_once(tmp_path, capsys):
    """A bad input is skipped with one line that names it once, the good ones are written,
    and the run exits non-zero."""
    from conftest import tiny_model
    tiny_model(tmp_path / "model")
    _photo(tmp_path / "good.jpg", (40, 30))
    (tmp_path / "caption.jpg").write_text("not a photo")
    rc = cli.main(["stylize", str(tmp_path / "caption.jpg"), str(tmp_path / "good.jpg"), "--out",
                   str(tmp_path / "st"), "--look", "noir", "--checkpoint", str(tmp_path / "model")])
    out, err = capsys.readouterr()
    assert rc == 2 and (tmp_path / "st" / "good.png").exists()
    skipped = [line for line in err.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and skipped[0].count("caption.jpg") == 1 and "not an image" in skipped[0]
