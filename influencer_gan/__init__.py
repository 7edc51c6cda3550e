"""influencer_gan — the companion package of the Influencer-GAN book.

Conditional GANs for influencer style transfer (a photo-editing "look" learned from an
influencer's feed) and personalised generation (avatars with chosen attributes).
Each module holds one concept of the source document:

    looks.py    §1.2/§3.1  parametric, differentiable photo-editing looks (exact ground truth)
    avatars.py  §3.1       procedural avatars with attribute labels and person masks
    data.py     §3.1/§5.2  every data name in one place (ig.data.X), gathered from:
      photos.py     the bundled photos and scenes, split by whole photograph; random crops
      files.py      your own files and folders, loaded safely (§5.2's ImageFolder)
      streams.py    the training streams for looks and avatars
      make_data.py  make-data: the data set as files on disk
    cbn.py      §4.4       conditional batch normalisation
    models.py   §3.2/§5.3  generators, style encoder, projection discriminator
    losses.py   §4.1–§4.5  the adversarial, cycle-consistency and identity losses
    train.py    §3.3       the adversarial training loop, checkpoints, DDP
    api.py      §3.4       inference: load_pretrained(...).stylize / .generate

Speed on a busy CPU: import influencer_gan before torch (the CLI does) and the package sets
OMP_WAIT_POLICY=PASSIVE, so OpenMP threads sleep instead of spinning while another program
keeps a core busy. If torch was imported first, `stylize` and `generate` run on one thread;
to keep several, start Python with OMP_WAIT_POLICY=PASSIVE in the environment.
"""
__version__ = "0.1.0"

import importlib as _importlib
import os as _os
import sys as _sys

# OpenMP threads spin while they wait for each other (libgomp's default). When another process
# keeps a core busy, 2-thread inference then stalls at every barrier of every operation: a
# 1024 px stylize took 0.8 s instead of 0.05 s (benchmarks/speed.py). OpenMP reads its wait
# policy once, when `import torch` loads it, so it is set here, before torch's first import,
# unless you chose one yourself. If torch was imported first, inference runs on one thread
# instead (see api.inference_threads). Library users who import torch first and want several
# threads: set OMP_WAIT_POLICY=PASSIVE in the environment (or import influencer_gan first).
OMP_WAIT_POLICY_SET = "torch" not in _sys.modules and "OMP_WAIT_POLICY" not in _os.environ
if OMP_WAIT_POLICY_SET:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

# Submodules and the public names, imported on first use (so `import influencer_gan` is quick).
_SUBMODULES = ("looks", "avatars", "data", "photos", "files", "streams", "make_data", "cbn", "models",
               "losses", "train", "api", "metrics", "studio", "export", "cli")
_NAMES = {
    "ConditionalBatchNorm2d": "cbn",
    "AvatarGenerator": "models", "LookGenerator": "models", "StyleEncoder": "models",
    "Discriminator": "models",
    "TrainConfig": "train", "Trainer": "train",
    "load_pretrained": "api", "load_model": "api",
}
__all__ = list(_SUBMODULES) + list(_NAMES)


def __getattr__(name):
    if name in _SUBMODULES:
        return _importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        return getattr(_importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'influencer_gan' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
