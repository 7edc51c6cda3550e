"""The default looks recipe is the document's unpaired method: it runs, it never reads ground
truth, its style encoder learns from feeds alone, and it learns from your own two folders."""
import json
from pathlib import Path

import torch
from PIL import Image

from influencer_gan import looks as L
from influencer_gan.api import load_model
from influencer_gan.cli import build_parser, train_config_from_args
from influencer_gan.train import MODEL, TrainConfig, Trainer

from conftest import TINY

ROOT = Path(__file__).resolve().parents[1]
# the default recipe, shrunk: only sizes change, every choice of the recipe stays
SMALL = {k: TINY[k] for k in ("style_dim", "ndf", "sample_every", "log_every", "device")}


def small(out, **kw):
    return TrainConfig(**{**SMALL, "batch_size": 6, "refs": 4, "prior_pool": 20, "out": str(out), **kw})


def test_defaults_and_shipped_config_are_unpaired():
    d = TrainConfig()
    assert d.lambda_paired == 0 and d.lambda_cyc > 0 and d.lambda_style > 0
    assert (d.head, d.d_arch, d.encoder, d.image_size) == ("color", "colour", "stats", 32)
    assert (d.c_route, d.condition, d.looks, d.lambda_pretext, d.lambda_sty) == ("edit", "intensity", "wide", 0, 0)
    assert TrainConfig(task="avatars").image_size == 64
    shipped = TrainConfig.load(ROOT / "configs" / "looks.json")
    assert shipped.lambda_paired == 0 and shipped.lambda_cyc > 0
    assert TrainConfig.load(ROOT / "configs" / "looks_paired.json").lambda_paired > 0
    # `train looks` without --config trains the default recipe
    args = build_parser().parse_args(["train", "looks", "--out", "runs/x"])
    assert train_config_from_args(args).to_dict() == TrainConfig(out="runs/x").to_dict() | {
        k: v for k, v in train_config_from_args(args).to_dict().items() if k in TrainConfig.RUNTIME_FIELDS}


def test_unpaired_recipe_trains_without_ground_truth(tmp_path):
    torch.manual_seed(0)
    tr = Trainer(small(tmp_path / "run", steps=4), progress=False)
    real_batch = tr.stream.batch

    def no_truth(generator=None):            # hide everything a real feed does not have
        b = real_batch(generator)
        return {**b, "params": None, "x_gt": None}

    tr.stream.batch = no_truth
    e_before = [p.detach().clone() for p in tr.nets["E"].parameters()]
    logs = [tr.step() for _ in range(4)]
    for log in logs:
        assert all(torch.isfinite(torch.tensor(v)) for v in log.values()), log
        assert "paired" not in log and {"adv", "cyc", "style"} <= set(log)
    # E learned from the contrastive loss alone (G and D read its code detached)
    assert any((a - b).abs().max() > 0 for a, b in zip(e_before, tr.nets["E"].parameters()))
    tr.save()
    model = load_model(tmp_path / "run")
    x = torch.rand(2, 3, 40, 48)
    refs = [torch.rand(3, 32, 32) for _ in range(3)]
    y = model.stylize(x, reference=refs)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_style_encoder_separates_feeds_after_a_short_contrastive_run(tmp_path):
    # a few steps of the recipe: on a fixed batch of 8 feeds in 8 different looks, two disjoint
    # halves of the same feed now agree far better than before (chance is log 8 = 2.08)
    from influencer_gan.losses import contrastive_agreement
    from influencer_gan.train import to_net
    torch.manual_seed(0)
    tr = Trainer(small(tmp_path / "run", steps=25, batch_size=8, lr_g=1e-3, looks="prior"), progress=False)
    b = tr.stream.batch(torch.Generator().manual_seed(7))

    def agreement():
        with torch.no_grad():
            codes = tr.nets["E"].eval()(to_net(b["refs"]), per_reference=True)
        tr.nets["E"].train()
        return contrastive_agreement(codes[:, :2].mean(1), codes[:, 2:].mean(1)).item()

    before = agreement()
    for _ in range(25):
        tr.step()
    after = agreement()
    assert after < 0.6 * before, (before, after)


def _folder(path: Path, imgs: torch.Tensor) -> Path:
    path.mkdir(parents=True)
    for i, t in enumerate(imgs):
        a = (t.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        Image.fromarray(a).save(path / f"{i}.png")
    return path


def test_your_own_feed_trains_unpaired_and_stylizes(tmp_path):
    g = torch.Generator().manual_seed(0)
    photos = torch.rand(6, 3, 48, 48, generator=g)
    content = _folder(tmp_path / "mine", photos[:3])
    styled = _folder(tmp_path / "feed", L.apply(photos[3:], "pastel", grain=True))
    cfg = small(tmp_path / "run", steps=3, content_dir=str(content), styled_dir=str(styled))
    tr = Trainer(cfg, progress=False)
    logs = tr.fit()
    assert (tmp_path / "run" / MODEL).exists() and "style" not in logs[-1]   # one feed: nothing to contrast
    # fine-tuning a trained model on the feed leaves E as it was, batch-norm statistics included:
    # one feed must not overwrite what E learned over many
    tuned = Trainer(small(tmp_path / "tuned", steps=2, content_dir=str(content), styled_dir=str(styled),
                          init=str(tmp_path / "run")), progress=False)
    before = {k: v.clone() for k, v in tuned.nets["E"].state_dict().items()}
    tuned.fit()
    assert not tuned.nets["E"].training
    assert all(torch.equal(v, tuned.nets["E"].state_dict()[k]) for k, v in before.items())
    model = load_model(tmp_path / "run")
    refs = [Image.open(f) for f in sorted(styled.iterdir())]
    out = model.stylize(Image.open(content / "0.png"), reference=refs)
    assert out.size == (48, 48)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["lambda_paired"] == 0 and saved["content_dir"] == str(content)


def test_own_feed_with_the_cli_defaults_fine_tunes_the_shipped_model(tmp_path):
    from influencer_gan.cli import FEED_STEPS
    (tmp_path / "c").mkdir(), (tmp_path / "s").mkdir()
    args = build_parser().parse_args(["train", "looks", "--content", str(tmp_path / "c"),
                                      "--styled", str(tmp_path / "s"), "--out", str(tmp_path / "run")])
    cfg = train_config_from_args(args)
    assert (cfg.init, cfg.steps, cfg.condition, cfg.head) == ("pretrained", FEED_STEPS, "intensity", "color")
    args = build_parser().parse_args(["train", "looks", "--content", str(tmp_path / "c"),
                                      "--styled", str(tmp_path / "s"), "--steps", "7"])
    assert train_config_from_args(args).steps == 7


def test_encoder_stage_teaches_e_only_and_never_reads_named_looks(tmp_path):
    """stage "encoder": G stays exactly as trained; E learns, from the package's random looks only."""
    import pytest
    with pytest.raises(ValueError, match="stage 'encoder'"):
        small(tmp_path / "x", stage="encoder")                 # needs a trained model to start from
    torch.manual_seed(0)
    first = Trainer(small(tmp_path / "gan", steps=2), progress=False)
    first.fit()
    from influencer_gan.pretext import EncoderTrainer
    tr = EncoderTrainer(small(tmp_path / "enc", steps=3, stage="encoder", init=str(tmp_path / "gan")),
                        progress=False)
    g_before = {k: v.clone() for k, v in tr.nets["G"].state_dict().items()}
    e_before = [p.detach().clone() for p in tr.nets["E"].parameters()]
    seen = []
    real_batch = tr.stream.batch

    def spy(generator=None):
        b = real_batch(generator)
        seen.append(b["named"].clone())
        return b

    tr.stream.batch = spy
    tr.fit()
    assert all(torch.equal(v, tr.nets["G"].state_dict()[k]) for k, v in g_before.items())
    assert any((a - b).abs().max() > 0 for a, b in zip(e_before, tr.nets["E"].parameters()))
    assert len(seen) == 3 and torch.cat(seen).any() and (~torch.cat(seen)).any()   # both kinds were drawn
    # a batch of named looks only teaches nothing
    tr.stream.batch = lambda generator=None: {**real_batch(generator),
                                              "named": torch.ones(6, dtype=torch.bool)}
    e_now = [p.detach().clone() for p in tr.nets["E"].parameters()]
    assert tr.step()["L_E"] != tr.step()["L_E"]                 # nan: nothing to learn from
    assert all(torch.equal(a, b) for a, b in zip(e_now, tr.nets["E"].parameters()))


def test_pretext_trainer_adds_the_drawn_rows_loss_through_e_and_g(tmp_path):
    """lambda_drawn: the adversarial step as before, plus an L1 on the drawn rows that reaches E."""
    import pytest
    from influencer_gan.pretext import PretextTrainer, drawn_look
    with pytest.raises(ValueError, match="lambda_drawn"):
        small(tmp_path / "x", lambda_drawn=1.0, looks="named")
    torch.manual_seed(0)
    tr = PretextTrainer(small(tmp_path / "run", steps=3, lambda_drawn=1.0), progress=False)
    b = tr._prepare(tr.stream.batch(torch.Generator().manual_seed(5)))
    rows, target = drawn_look(b)
    assert rows.any() and target.shape == b["x"][rows].shape and not b["named"][rows].any()
    logs = [tr.step() for _ in range(3)]
    assert all({"adv", "cyc", "style", "drawn"} <= set(log) and log["drawn"] > 0 for log in logs)
    # the same run without the drawn rows' loss ends with another E: the L1 reached it (from the
    # second step on: G starts as the identity, whatever the code)
    torch.manual_seed(0)
    plain = Trainer(small(tmp_path / "plain", steps=3), progress=False)
    for _ in range(3):
        plain.step()
    assert any((a - b).abs().max() > 0 for a, b in zip(plain.nets["E"].parameters(), tr.nets["E"].parameters()))
