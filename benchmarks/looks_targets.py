"""The looks model's targets, met or missed, from the measurements of the shipped weights.

    python benchmarks/looks_targets.py            # prints the table
    python benchmarks/looks_targets.py --write    # the looks_targets section of RESULTS.md

It gathers what the other scripts measured on `influencer_gan/weights/looks` and measures the
rest itself:

* named looks and unseen slider looks: `metrics.json` beside the weights (`influencer-gan
  evaluate looks`, written by `scripts/ship_weights.py`: held-out test photos, 256 px);
* real filters from 5 posts of other photos: `results/real_filters.json`
  (`benchmarks/real_filters.py`; the *test* half of the development set is reported);
* a user's own feed with the CLI's defaults: `results/feed.json` (a slider look) and
  `results/feed_filter.json` (a real filter) (`benchmarks/feed.py`);
* the personal condition c, measured here (`condition_learning.evaluate`: strength 0 against
  the photo, and each slider's end-to-end change over its defined change, 10 named looks on the
  test crops at 64 px: the mean change the model makes over the mean defined change; the mean of
  the per-look ratios, which a look with a tiny defined change dominates, is printed beside it);
* a plain user's 1024 px stylize, measured here in fresh processes with no environment
  variables (median of 7 calls after one warm-up call, 3 processes);
* the web demo at 512 px: `results/web_demo.json` (`benchmarks/web_demo.py`), if present;
* the validation curve written during training (`validation.jsonl` beside the weights);
* the recipe's spread over seeds: `results/looks_seeds.json` (see RESULTS' *Looks recipe search*).
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import _report  # noqa: E402

WEIGHTS = ROOT / "influencer_gan" / "weights" / "looks"
RES = Path(__file__).resolve().parent / "results"

TIMING = """
import time, torch, influencer_gan as ig
m = ig.load_pretrained("looks", device="cpu")
x = torch.rand(3, 1024, 1024, generator=torch.Generator().manual_seed(0))
m.stylize(x, look="teal_orange")
t = []
for _ in range(7):
    t0 = time.perf_counter(); m.stylize(x, look="teal_orange"); t.append(time.perf_counter() - t0)
print(sorted(t)[3])
"""


def _json(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def measure() -> dict:
    from condition_learning import evaluate
    out = {"condition": evaluate(WEIGHTS)}
    times = []
    for _ in range(3):
        r = subprocess.run([sys.executable, "-c", TIMING], capture_output=True, text=True, cwd=ROOT, check=True)
        times.append(float(r.stdout.strip().splitlines()[-1]))
    out["stylize_1024_s"] = statistics.median(times)
    out["stylize_1024_runs"] = times
    return out


def rows(m: dict) -> list[tuple[str, str, bool | None]]:
    met = lambda ok: ok  # noqa: E731
    out = []
    ev = _json(WEIGHTS / "metrics.json")
    if ev:
        model = next(r for r in ev["rows"] if r["method"] == "model")
        ident = next(r for r in ev["rows"] if r["method"].startswith("identity"))
        named, unseen = model["named"]["delta_e"], model["unseen"]["delta_e"]
        out.append(("named looks, held-out photos: ΔE2000 ≤ 3",
                    f"{named:.2f} (doing nothing {ident['named']['delta_e']:.2f})", met(named <= 3)))
        out.append(("unseen slider looks from 5 references: ≤ 5",
                    f"{unseen:.2f} (doing nothing {ident['unseen']['delta_e']:.2f})", met(unseen <= 5)))
    sd = _json(RES / "looks_seeds.json")
    if sd and "seed2" in sd:   # the recipe's spread: every seed trained by the same command
        n = sum(k.startswith("seed") and k[4:].isdigit() for k in sd)
        out.append((f"the recipe over {n} seeds (mean ± sd; `results/looks_seeds.json`): named ≤ 3, unseen ≤ 5, "
                    "real filters ≤ 6",
                    f"named {sd['named_mean']:.2f} ± {sd['named_sd']:.2f}, unseen {sd['unseen_mean']:.2f} ± "
                    f"{sd['unseen_sd']:.2f}, real filters (test) {sd['filters_test_mean']:.2f} ± {sd['filters_test_sd']:.2f}",
                    met(sd["named_mean"] <= 3 and sd["unseen_mean"] <= 5 and sd["filters_test_mean"] <= 6)))
    rf = _json(RES / "real_filters.json")
    if rf:
        test = [r for r in rf["rows"].values() if r["split"] == "test"]
        mean = statistics.mean(r["model"] for r in test)
        worse = sum(r["model"] >= r["identity"] for r in test)
        out.append(("real filters from 5 posts of other photos: ≤ 6 and better than nothing on every filter",
                    f"{mean:.2f} on the {len(test)} test filters (doing nothing "
                    f"{statistics.mean(r['identity'] for r in test):.2f}); worse than nothing on {worse}",
                    met(mean <= 6 and worse == 0)))
    for name, label in (("feed.json", "a slider look"), ("feed_filter.json", "a real filter")):
        fd = _json(RES / name)
        if fd:
            de = fd["methods"]["trained on the feed (train + stylize --reference)"]["delta_e"]
            idn = fd["methods"]["identity (do nothing)"]["delta_e"]
            mins = fd["train_seconds"] / 60
            out.append((f"own feed, {label} ({fd['look']}), CLI defaults, ≤ 5 CPU min: ≤ 3",
                        f"{de:.2f} after {mins:.1f} min, {fd['steps_done']} steps (doing nothing {idn:.2f})",
                        met(de <= 3 and mins <= 5)))
    c = m["condition"]
    out.append(("strength 0: within 1 ΔE2000 of the photo", f"{c['zero']:.2f}", met(c["zero"] <= 1)))
    knobs = ("strength", "vivid", "warmth")
    ratios = [c[f"change_{k}"] for k in knobs]
    per_look = [c[f"ratio_{k}"] for k in knobs]
    worst = max(c["ratios_vivid"], key=lambda n: c["ratios_vivid"][n])
    out.append(("each slider's end-to-end change: 0.8–1.25 × the defined change (mean change over the 10 named "
                "looks / mean defined change)",
                f"strength {ratios[0]:.2f}, vivid {ratios[1]:.2f}, warmth {ratios[2]:.2f} (the mean of the per-look "
                f"ratios, reported before: {per_look[0]:.2f} / {per_look[1]:.2f} / {per_look[2]:.2f}; the largest, "
                f"vivid on {worst}, {c['ratios_vivid'][worst]:.2f}, where the defined change is only "
                f"{c['defined_vivid'][worst]:.2f} ΔE)",
                met(all(0.8 <= r <= 1.25 for r in ratios))))
    s = m["stylize_1024_s"]
    out.append(("1024 px stylize, plain user: ≤ 0.25 s", f"{1000 * s:.0f} ms (median of 3 fresh processes)",
                met(s <= 0.25)))
    wd = _json(RES / "web_demo.json")
    if wd and "512" in wd.get("median_ms", {}):   # (run benchmarks/web_demo.py after shipping new weights)
        ms = wd["median_ms"]["512"]
        out.append(("web demo at 512 px: ≤ 50 ms", f"{ms:.0f} ms (headless Chromium, WASM, 1 thread; load average "
                    f"before {wd.get('load_before', 'n/a')})", met(ms <= 50)))
    else:
        out.append(("web demo at 512 px: ≤ 50 ms", "not measured for these weights", None))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true")
    a = ap.parse_args(argv)
    m = measure()
    lines = ["| target | measured | met? |", "|---|---|---|"]
    for target, value, ok in rows(m):
        lines.append(f"| {target} | {value} | {'n/a' if ok is None else 'yes' if ok else '**no**'} |")
    curve = [json.loads(line) for line in (WEIGHTS / "validation.jsonl").read_text().splitlines()] \
        if (WEIGHTS / "validation.jsonl").exists() else []
    if curve:
        lines += ["", "### Validation curve of the shipped run", "",
                  "`metrics.validate_looks` every "
                  f"{curve[1]['step'] - curve[0]['step'] if len(curve) > 1 else '?'} steps, val photos at 64 px "
                  "(`validation.jsonl` beside the weights):", "",
                  "| step | named | unseen slider looks | unseen app filters | strength 0 |", "|---|---|---|---|---|"]
        lines += [f"| {r['step']} | {r['named']:.2f} | {r['unseen']:.2f} | {r['filters']:.2f} | {r['strength0']:.2f} |"
                  for r in curve]
    table = "\n".join(lines)
    print(table)
    if a.write:
        body = "\n".join([
            "## Looks model: targets", "",
            f"- date: {_report.now()}; command: `{_report.command()}` (`benchmarks/looks_targets.py`)",
            f"- machine: {_report.cpu_name()}, load average {_report.load_average()}",
            "- the rows come from the files named in the script's docstring, each written by its own command; "
            "c and the 1024 px timing are measured by this command", "", table])
        _report.save("looks_targets", {**m, "rows": rows(m)}, body, _report.RESULTS, quick=False, no_write=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
