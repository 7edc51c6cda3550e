"""Inference API (§3.4): shipped weights load offline; missing weights give a clear error."""
import pytest
import torch

import influencer_gan as ig
from influencer_gan import api


def test_pretrained_avatars_generate_is_seeded():
    torch.set_num_threads(1)
    model = ig.load_pretrained("avatars")
    images, attrs = model.generate(3, attrs={"hair": "red", "glasses": "yes"}, seed=7)
    assert [im.size for im in images] == [(64, 64)] * 3
    assert all(a["hair"] == "red" and a["glasses"] == "yes" for a in attrs)
    again, _ = model.generate(3, attrs={"hair": "red", "glasses": "yes"}, seed=7, return_tensor=True)
    first, _ = model.generate(3, attrs={"hair": "red", "glasses": "yes"}, seed=7, return_tensor=True)
    assert torch.equal(again, first)
    with pytest.raises(ValueError, match="hair"):
        model.generate(1, attrs={"hair": "green-ish"})


def test_pretrained_looks_load_offline_and_beat_doing_nothing():
    """The shipped looks weights (the unpaired recipe, trained without ground truth) on the
    quick protocol: held-out photo, teal_orange and noir at two conditions, against the exact
    ground truth. They clearly beat doing nothing (measured: 7.24 against 18.41, 0.39 of its
    error; the margin to 0.7 is far beyond any CPU's rounding). Strength 0 returns the photo."""
    from influencer_gan import metrics
    from PIL import Image
    torch.set_num_threads(1)
    model = ig.load_pretrained("looks")
    assert (model.config.head, model.config.c_route, model.config.lambda_paired) == ("color", "edit", 0)
    ours = metrics.score_looks(*metrics.model_methods(model), quick=True)["named"]["delta_e"]
    nothing = metrics.score_looks(*metrics.identity_methods(), quick=True)["named"]["delta_e"]
    assert ours < 0.7 * nothing, (ours, nothing)
    x = torch.rand(3, 40, 50, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model.stylize(x, look="noir", strength=0.0), x)   # strength 0: the photo itself
    out = model.stylize(Image.new("RGB", (90, 70), (120, 140, 160)), look="pastel", warmth=0.3)
    assert out.size == (90, 70)


def test_missing_weights_say_so(monkeypatch, tmp_path):
    monkeypatch.setattr(api, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="no weights shipped yet for 'looks'"):
        ig.load_pretrained("looks")
    with pytest.raises(ValueError, match="looks' or 'avatars"):
        ig.load_pretrained("cats")


def test_look_mix_parsing():
    assert api.parse_look_mix("teal_orange:0.7,pastel:0.3") == [("teal_orange", 0.7), ("pastel", 0.3)]
    with pytest.raises(ValueError, match="NAME:WEIGHT"):
        api.parse_look_mix("teal_orange:lots")


def test_weights_that_do_not_fit_their_config_name_the_file(tmp_path):
    """Weights whose shapes disagree with the config inside the file (another package version)
    give a ValueError naming the file and the network, not PyTorch's raw RuntimeError."""
    import json

    import pytest
    from safetensors.torch import load_file, save_file

    from conftest import tiny_model
    from influencer_gan.api import load_model
    tiny_model(tmp_path / "run")
    path = tmp_path / "run" / "model.safetensors"
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    save_file(load_file(str(path)), str(path), metadata={"config": json.dumps({**config, "style_dim": 24}), "step": "0"})
    with pytest.raises(ValueError, match=r"model\.safetensors: the weights of network E do not fit"):
        load_model(tmp_path / "run")


def test_named_look_codes_are_cached_and_safe_to_modify():
    """stylize(look=NAME) reuses the named look's code instead of re-rendering its references;
    the caller gets a copy, so changing it cannot change the model's next answer."""
    import torch

    import influencer_gan as ig
    m = ig.load_pretrained("looks")
    a = m.style_code(look="noir")
    a.add_(1.0)
    b = m.style_code(look="noir")
    assert not torch.equal(a, b) and torch.equal(b, m.style_code(look="noir"))
    mix = m.style_code(look="noir:0.25,pastel:0.75")
    assert torch.allclose(mix, 0.25 * b + 0.75 * m.style_code(look="pastel"), atol=1e-6)


def test_default_device_is_auto_and_on_a_cpu_gives_the_cpu_results(monkeypatch):
    """`load_pretrained(name)` without a device is `device="auto"`: on a machine without a GPU
    that is the CPU, with exactly the results of `device="cpu"` (tests/test_devices.py checks
    that a visible GPU is picked)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    auto, cpu = ig.load_pretrained("avatars"), ig.load_pretrained("avatars", device="cpu")
    assert auto.device == cpu.device == torch.device("cpu")
    a, attrs_a = auto.generate(3, seed=5, look="pastel", return_tensor=True)
    b, attrs_b = cpu.generate(3, seed=5, look="pastel", return_tensor=True)
    assert torch.equal(a, b) and attrs_a == attrs_b
    looks_auto, looks_cpu = ig.load_pretrained("looks"), ig.load_pretrained("looks", device="cpu")
    x = torch.rand(3, 40, 52, generator=torch.Generator().manual_seed(1))
    assert torch.equal(looks_auto.stylize(x, look="noir:0.5,pastel:0.5", vivid=0.3),
                       looks_cpu.stylize(x, look="noir:0.5,pastel:0.5", vivid=0.3))


# --------------------------------------------------------------------------------------------
# The measured figures that ship with the package (influencer_gan/results/measured.json)
# --------------------------------------------------------------------------------------------
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
MADE_BY = "IG_WRITE_RESULTS=1 python -m pytest -q tests/test_api.py -k measured_results"


def _cell(text: str) -> str:
    return text.replace("**", "").replace("`", "").strip()


def _split_note(text: str) -> tuple[str, str]:
    """"265 ms (slowest row; load average ...)" -> ("265 ms", "slowest row; load average ...");
    a parenthesis without a ";" is part of the value ("0.0401 vs 0.0680 (59 %)")."""
    m = re.search(r"\s*\(([^()]*;[^()]*)\)\s*$", text)
    return (text[:m.start()].strip(), m.group(1)) if m else (text, "")


def target_tables(markdown: str) -> dict:
    """{"speed" | "quality": {"date", "machine", "rows": [{"target", "measured", "note", "met"}]}}
    from the "### ... targets" tables of RESULTS.md and the date and machine lines of their section."""
    out, section, info, heading = {}, None, {}, ""
    for line in markdown.splitlines():
        if line.startswith("## "):
            section, info = line[3:].strip().lower(), {}
        m = re.match(r"- (?:date:|written) (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", line)
        if m and "date" not in info:
            info["date"] = m.group(1)
        if line.startswith("- machine: ") and "machine" not in info:
            info["machine"] = line[len("- machine: "):].strip()
        if line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            continue
        if heading.endswith("targets") and line.startswith("|"):
            cells = [_cell(c) for c in line.strip().strip("|").split("|")]
            if cells[0] == "target" or set("".join(cells)) <= set("-: "):
                continue
            measured, note = _split_note(cells[1])
            met = cells[2].split(" ", 1)
            table = out.setdefault(section, {**info, "rows": []})
            table["rows"].append({"target": cells[0], "measured": measured, "note": note,
                                  "met": met[0] == "yes", "met_note": met[1].strip("() ") if len(met) > 1 else ""})
    return out


def measured_from_benchmarks(bench: Path = BENCHMARKS) -> dict:
    """The content of influencer_gan/results/measured.json, made from the repository's
    benchmarks/RESULTS.md and benchmarks/results/{quality,avatars_variants}.json."""
    quality = json.loads((bench / "results" / "quality.json").read_text(encoding="utf-8"))
    variants = json.loads((bench / "results" / "avatars_variants.json").read_text(encoding="utf-8"))

    shipped_looks = json.loads((api.WEIGHTS_DIR / "looks" / "metrics.json").read_text(encoding="utf-8"))

    def rows(result):
        return {("model" if r["method"] == "model" else r["method"].split(" ")[0]): r for r in result["rows"]}

    # the looks figures are those measured on the shipped weights when they were shipped
    # (scripts/ship_weights.py: `influencer-gan evaluate looks`), the avatars' from quality.json
    looks, avatars = rows(shipped_looks), rows(quality["avatars"])
    keep_looks = lambda r: {"named": r["named"]["delta_e"], "unseen": r["unseen"]["delta_e"],  # noqa: E731
                            "named_per_look": {k: v["delta_e"] for k, v in r["named_per_look"].items()}}
    keep_avatars = lambda r: {k: r[k] for k in ("accuracy", "smile_by_skin", "fid", "diversity_l1", "n")}  # noqa: E731
    return {
        "about": "Figures measured by the book's benchmark scripts on the weights that ship in this "
                 "package, copied from the repository's benchmarks/RESULTS.md and benchmarks/results/ so "
                 "that they can be read without the repository (influencer_gan.api.measured_results).",
        "made_by": MADE_BY + "  (run in the repository, after the benchmarks)",
        "sources": ["benchmarks/RESULTS.md", "influencer_gan/weights/looks/metrics.json",
                    "benchmarks/results/quality.json", "benchmarks/results/avatars_variants.json"],
        "targets": target_tables((bench / "RESULTS.md").read_text(encoding="utf-8")),
        "looks": {"date": shipped_looks.get("date", ""), "step": shipped_looks["model"]["step"],
                  "protocol": "held-out test photos (each one's centre square and 2 random crops, 256 px); "
                              "named looks at 4 conditions c; unseen looks from 5 references; mean ΔE2000",
                  "model": keep_looks(looks["model"]), "identity": keep_looks(looks["identity"])},
        "avatars": {"date": quality.get("avatars_date", quality["date"]), "step": quality["avatars"]["model"]["step"],
                    "model": keep_avatars(avatars["model"]), "real": keep_avatars(avatars["real"])},
        "avatar_variants": {"date": variants["scores_from"]["date"],
                            "real": {k: variants["real"][k] for k in ("accuracy", "fid", "diversity_l1")},
                            "rows": {r["name"]: {"overrides": r["overrides"], "steps": r["steps"],
                                                 **{k: r[k] for k in ("accuracy", "fid", "diversity_l1")}}
                                     for r in variants["rows"]}},
    }


@pytest.mark.skipif(not (BENCHMARKS / "RESULTS.md").exists(), reason="needs the repository's benchmarks/")
def test_shipped_measured_results_match_the_benchmarks():
    """Chapter 9 reads the figures from the package (Colab has no benchmarks/ folder); they must
    be the repository's. After re-running a benchmark, rewrite the copy with MADE_BY."""
    want = measured_from_benchmarks()
    if os.environ.get("IG_WRITE_RESULTS"):
        api.RESULTS_FILE.parent.mkdir(exist_ok=True)
        api.RESULTS_FILE.write_text(json.dumps(want, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert api.measured_results() == want, f"influencer_gan/results/measured.json is out of date: run {MADE_BY}"
    from influencer_gan.train import read_checkpoint
    for name in ("looks", "avatars"):   # the figures are those of the weights that ship
        _, meta = read_checkpoint(api.WEIGHTS_DIR / name / "model.safetensors")
        assert int(meta["step"]) == want[name]["step"], name


def test_measured_results_ship_with_the_package():
    """The copy is package data (pyproject.toml), readable offline, with every target's verdict."""
    res = api.measured_results()
    assert {"speed", "quality"} <= set(res["targets"])
    assert all(isinstance(r["met"], bool) and r["measured"] for t in res["targets"].values() for r in t["rows"])
    assert res["looks"]["model"]["named"] < res["looks"]["identity"]["named"]
    import tomllib
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["influencer_gan"]
    assert any(Path("results/measured.json").match(pattern) for pattern in data), data
