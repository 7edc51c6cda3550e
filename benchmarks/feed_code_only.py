"""Own feed, another way to fine-tune: move only the style code s, with G and E frozen.

    python benchmarks/feed_code_only.py pilgram.clarendon      # a real filter
    python benchmarks/feed_code_only.py slider                 # feed.py's slider look (random_look(20000))

The CLI's default fine-tune on a feed (`train looks --content --styled`) moves G's weights, and
on a real filter its critic learns the folders' difference in content along with the look
(RESULTS: *Fine-tuning on your own feed, step by step*). Here, on `benchmarks/feed.py`'s folders
(9 own photos, 9 posts of other photos), the shipped model stays as it is; the 64 numbers of the
style code start at E(posts) and follow a fresh colour critic (the shipped recipe's D, reading
the starting code and c = (0, 0, 1)) with the non-saturating loss, Adam lr `--lr`, 32 crops of
32 px per side per step. G can only move along its own code space, whose looks come close to
real filters (`code_oracle.py`), so it cannot copy the content. Every 100 steps: mean ΔE2000 on
the held-out test crops (feed.py's `score`), beside doing nothing and zero-shot. An experiment
(it prints; nothing is written), not the CLI's behaviour.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
import feed as FD  # noqa: E402
from influencer_gan import looks as L  # noqa: E402
from influencer_gan import losses  # noqa: E402
from influencer_gan.api import _to_tensor, load_pretrained  # noqa: E402
from influencer_gan.data import random_crops  # noqa: E402
from influencer_gan.train import build_networks, to_net  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("look", help="'slider' (random_look(20000)) or a real filter, e.g. pilgram.clarendon")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--lr", type=float, default=0.01)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    if a.look == "slider":
        look = L.random_look(FD.FEED_SEED)
    else:
        import real_filters as RF
        look = RF.filters()[a.look][1]
    content, styled = FD.make_folders(Path(tempfile.mkdtemp()), look)
    own = [_to_tensor(p) for p in sorted(content.iterdir())]
    posts = [_to_tensor(p) for p in sorted(styled.iterdir())]
    model = load_pretrained("looks", device="cpu")
    G = model.nets["G"].eval().requires_grad_(False)
    model.nets["E"].eval().requires_grad_(False)
    with torch.no_grad():
        s0 = model.style_code(reference=posts)
    print(f"{a.look}: doing nothing {FD.score(lambda x: x, look)['delta_e']:.2f}, zero-shot "
          f"{FD.score(lambda x: model.stylize(x, style=s0), look)['delta_e']:.2f}", flush=True)
    s = s0.clone().requires_grad_(True)
    D = build_networks(model.config)["D"]
    opt_s = torch.optim.Adam([s], lr=a.lr, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=6e-4, betas=(0.0, 0.99))
    d_loss, g_loss = losses.gan_loss_fns("nonsaturating")
    g = torch.Generator().manual_seed(0)
    c0 = torch.tensor([[0.0, 0.0, 1.0]]).expand(32, -1)
    cond = torch.cat([s0[None].expand(32, -1), c0], 1)
    for step in range(1, a.steps + 1):
        x, y = to_net(random_crops(own, 32, 32, g)), to_net(random_crops(posts, 32, 32, g))
        fake = G(x, s[None].expand(32, -1), c0)
        ld = d_loss(D(y, cond), D(fake.detach(), cond))
        opt_d.zero_grad()
        ld.backward()
        opt_d.step()
        lg = g_loss(D(fake, cond))
        opt_s.zero_grad()
        lg.backward()
        opt_s.step()
        if step % 100 == 0:
            de = FD.score(lambda x: model.stylize(x, style=s.detach()), look)["delta_e"]
            print(f"step {step}: L_D {ld.item():.3f}, code moved {(s - s0).norm().item():.2f}, ΔE2000 {de:.2f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
