"""§3.3 The adversarial training loop.

The document lists seven steps: initialise G and D; sample a batch of images and conditions;
run the generator; score real and generated images with the discriminator; compute the
adversarial and cycle-consistency losses; back-propagate; repeat. `Trainer.step` is exactly
those steps, in that order. Everything around it is what a real run needs:

* a `TrainConfig` dataclass, saved as JSON beside every checkpoint;
* device "auto" (cuda, then mps, then cpu), AMP (bf16 where the GPU supports it, fp16 with a
  GradScaler otherwise, off on CPU), channels_last and torch.compile as options;
* seeded, and deterministic on CPU: all data randomness comes from one `torch.Generator`
  whose state is checkpointed, so `--resume` continues bit-exactly;
* an image pool (Shrivastava et al. 2017) so D also sees older fakes;
* linear learning-rate decay, an exponential moving average (EMA) of the generator;
* checkpoints as safetensors, written atomically (temporary file, then rename); a config that
  does not match the checkpoint is refused; a NaN/inf loss stops training and keeps the last
  good checkpoint; Ctrl-C finishes the current step, saves, and exits;
* `torchrun --nproc_per_node N -m influencer_gan train ...` runs DistributedDataParallel;
  only rank 0 logs and writes.

Two tasks share the loop:

* ``looks``   — style transfer G(x | s, c): x a neutral photo, s the style code that the
  StyleEncoder reads from K reference images of an influencer's feed, c = (vivid, warmth,
  strength) the personal condition. F is the inverse generator of the cycle loss (§4.3).
* ``avatars`` — personalised generation G(z | style, attributes) (§5.3.1).
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch
import torch.distributed as dist
import torch.nn as nn
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from . import losses
from .models import (AvatarGenerator, ColourCritic, Discriminator, LookGenerator, StyleEncoder,
                     shrunk_statistics)

CHECKPOINT = "checkpoint.safetensors"   # full training state (resume)
MODEL = "model.safetensors"             # inference weights only (EMA generator, style encoder)
CONFIG = "config.json"


class TrainingError(RuntimeError):
    """A training run cannot go on; the message says why and what was kept."""


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """Every setting of a run. The defaults are the looks recipe users get (`train looks`
    without --config): the document's *unpaired* method — adversarial + cycle-consistency
    losses, no ground truth — with the document's generator: the CBN encoder-decoder that reads
    the photo and predicts a per-pixel colour transform (`head="color"`), its CBNs conditioned
    on the style code, and c applied by its definition to the full-strength look
    (`c_route="edit"`); a training prior of named looks, slider looks and app filters
    (`looks="wide"`); a colour-statistics critic as D; a style encoder trained by contrastive
    agreement of two halves of each feed; the non-saturating loss with Adam (0, 0.99),
    lr 3e-4 / 6e-4, EMA (see benchmarks/RESULTS.md). configs/looks.json is this recipe for
    the shipped weights; configs/avatars.json the avatars'."""
    task: str = "looks"                 # "looks" or "avatars"
    steps: int = 2000
    batch_size: int = 32
    image_size: Optional[int] = None    # None: the task's own (looks 32 px, avatars 64 px)
    # -- networks
    style_dim: int = 64                 # looks: size of the style code read from references
    ngf: int = 16
    n_blocks: int = 2
    backbone: str = "resnet"            # "resnet" or "unet"
    head: str = "color"                 # "color" (colour transform), "params" (slider editor) or "rgb"
    basis: str = "legendre"             # looks, "color" head: the colour transform's basis (models.COLOUR_BASES)
    work_size: int = 32                 # looks, "color"/"rgb" heads: resolution the generator thinks at
    ndf: int = 64
    d_layers: int = 3                   # 3 -> the 70x70 PatchGAN
    d_arch: str = "colour"              # looks: "colour" (ColourCritic) or "patch" (PatchGAN)
    d_size: int = 16                    # looks, "colour": the size D shrinks images to (grain out)
    encoder: str = "stats"              # looks: StyleEncoder on colour "stats" alone or "conv+stats"
    d_cond: str = "code"                # looks: D reads [style code, c] ("code") or [the references'
                                        # colour statistics, c] ("stats"; "joint": also at its input,
                                        # with the difference to the image's, see ColourCritic)
    z_dim: int = 128                    # avatars: noise dimension
    upsample: str = "resize"            # avatars: G's up-sampling, "resize" (resize-convolution) or
                                        # "transposed" (the document's; checkerboards)
    avatar_ngf: int = 64                # avatars: G's base width (64 = the document's 64..512 channels)
    d_mbstd: bool = False               # avatars: minibatch standard deviation feature in D
    refs: int = 6                       # looks: reference images per style code
    # -- losses (§4)
    gan_loss: str = "nonsaturating"     # "minimax", "nonsaturating", "lsgan", "hinge"
    lambda_adv: float = 1.0             # weight of G's adversarial loss; 0 with lambda_paired > 0 is the
                                        # non-adversarial L1 baseline (D still trains, unread)
    lambda_cyc: float = 1.0             # λ of §4.5
    lambda_id: float = 0.0              # identity loss weight (see losses.identity_loss)
    lambda_paired: float = 0.0          # > 0 only for the supervised baseline (needs ground truth)
    lambda_cls: float = 0.0             # avatars: AC-GAN auxiliary attribute classifier in D
    lambda_ms: float = 0.0              # avatars: mode-seeking regularisation (losses.mode_seeking_loss)
    condition: str = "intensity"        # looks: what c means (looks.apply): "intensity" or "sliders"
    lambda_cond: float = 0.0            # looks: weight of losses.condition_consistency ("intensity" only)
    lambda_sty: float = 0.0             # looks: style reconstruction (StarGAN v2): E must read G's
                                        # full-strength output as the look it was asked for; pair-free
    lambda_pretext: float = 0.0         # looks "wide": L1 on the rows whose look is a random app filter
                                        # alone, the one look family the package draws itself (Neural
                                        # Preset's pretext task); never on named or slider looks
    stage: str = "gan"                  # looks: "gan" (the adversarial game of §3.3) or "encoder": E, G
                                        # from `init`, G frozen, and E learns to read G's code space
                                        # (pretext.py); never on named looks or feeds
    lambda_drawn: float = 0.0           # looks: L1 through E and G on the rows whose look the package
                                        # drew at random (pretext.PretextTrainer); never on named looks
    c_route: str = "edit"               # looks: c through G's CBNs ("cbn") or applied by its definition
                                        # to G's full-strength look ("edit", needs condition "intensity")
    lambda_style: float = 1.0           # looks: E learns by contrastive agreement of two ref sets
    style_temperature: float = 0.1
    # -- optimisation
    lr_g: float = 3e-4
    lr_d: float = 6e-4
    beta1: float = 0.0
    beta2: float = 0.99
    decay_start: float = 0.5            # fraction of steps after which the lr decays linearly to 0
    ema_decay: float = 0.99
    pool_size: int = 0
    # -- data
    looks: str = "wide"                 # "wide" (named + prior + app filters), "mixed", "named", "prior";
                                        # "texture" (textures.py: named + prior) or "texture:NAME" (one look)
    prior_pool: int = 2000              # > 0: the prior's looks come from a fixed pool of this many
    data_root: str = "data"
    content_dir: Optional[str] = None   # your own neutral photos ...
    styled_dir: Optional[str] = None    # ... and an influencer's feed
    init: str = ""                      # looks: start E and G from "pretrained" (the shipped looks
                                        # weights) or a run folder; "" starts from scratch
    # -- runtime
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    channels_last: bool = False
    compile: bool = False
    log_every: int = 50
    sample_every: int = 500
    ckpt_every: int = 250
    val_every: int = 0                  # looks: > 0 validates the EMA networks every so many steps
                                        # (metrics.validate_looks, val split) into val.jsonl
    out: str = "runs/looks"

    # fields that may change between a run and its resumption
    RUNTIME_FIELDS = ("steps", "device", "amp", "compile", "log_every", "sample_every",
                      "ckpt_every", "val_every", "out", "data_root")

    def __post_init__(self):
        if self.image_size is None:
            self.image_size = 32 if self.task == "looks" else 64
        choices = {"task": ("looks", "avatars"), "backbone": ("resnet", "unet"),
                   "head": ("color", "rgb", "params"), "gan_loss": tuple(losses.GAN_LOSSES),
                   "d_arch": ("patch", "colour"),
                   "encoder": ("conv+stats", "stats"), "d_cond": ("code", "stats", "joint"),
                   "upsample": ("resize", "transposed"), "condition": ("sliders", "intensity"),
                   "c_route": ("cbn", "edit"), "stage": ("gan", "encoder"),
                   "basis": ("affine", "quadratic", "cubic", "legendre")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"config: {name}={getattr(self, name)!r} is not one of {allowed}")
        from .streams import check_looks, is_texture
        try:
            check_looks(self.looks)
        except ValueError as e:
            raise ValueError(f"config: {e}") from None
        if is_texture(self.looks) and self.val_every:
            raise ValueError("config: val_every validates colour looks (metrics.validate_looks); "
                             "texture looks are scored by benchmarks/texture_looks.py")
        for name in ("steps", "batch_size", "image_size", "refs", "ngf", "ndf", "avatar_ngf"):
            if getattr(self, name) < 1:
                raise ValueError(f"config: {name} must be a positive integer, got {getattr(self, name)}")
        if (self.content_dir is None) != (self.styled_dir is None):
            raise ValueError("config: --content and --styled go together (your photos and the influencer's feed)")
        if self.lambda_style and self.refs < 2:
            raise ValueError("config: lambda_style compares two disjoint sets of references: refs must be >= 2")
        if self.task != "avatars" and self.lambda_cls:
            raise ValueError("config: lambda_cls (the AC-GAN attribute classifier) is for the avatars task")
        if self.task != "avatars" and (self.lambda_ms or self.d_mbstd):
            raise ValueError("config: lambda_ms and d_mbstd are for the avatars task")
        if self.lambda_cond and (self.task != "looks" or self.condition != "intensity"):
            raise ValueError("config: lambda_cond teaches c as 'intensity' defines it: it needs task looks "
                             "and condition 'intensity'")
        if self.lambda_pretext and self.looks != "wide":
            raise ValueError("config: lambda_pretext learns from random app filters: it needs looks 'wide'")
        if (self.c_route == "edit" or self.looks == "wide" or is_texture(self.looks)) \
                and self.condition != "intensity":
            raise ValueError("config: c_route 'edit', looks 'wide' and texture looks use c as photo apps "
                             "define it for any look: they need condition 'intensity'")
        if self.lambda_drawn and (self.task != "looks" or self.content_dir or self.stage != "gan"
                                  or self.looks not in ("wide", "mixed", "prior")):
            raise ValueError("config: lambda_drawn learns from the looks the package draws: it needs task "
                             "looks, stage 'gan', looks 'wide', 'mixed' or 'prior', and no folders")
        if self.stage == "encoder" and (self.task != "looks" or not self.init or self.content_dir
                                        or self.looks not in ("wide", "mixed", "prior")):
            raise ValueError("config: stage 'encoder' teaches the style encoder of a trained looks model "
                             "(init) on the package's own random looks: it needs task looks, init, looks "
                             "'wide', 'mixed' or 'prior', and no folders")
        if self.task == "avatars" and self.content_dir:
            raise ValueError("config: --content/--styled are for the looks task only")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"config: unknown field(s) {', '.join(unknown)}")
        if "head" in d:   # a whole config written by an earlier version (not a few overrides)
            if d.get("task", "looks") == "looks" and "condition" not in d:
                # written before the field existed: c moved the look's own sliders
                d = {**d, "condition": "sliders"}
            if "basis" not in d:   # written before the field existed: the cubic monomials
                d = {**d, "basis": "cubic"}
            if "c_route" not in d:   # written before the field existed: c went into every CBN
                d = {**d, "c_route": "cbn"}
        if d.get("task") == "avatars" and "upsample" not in d:
            # written before the field existed: the generator had the document's transposed convolutions
            d = {**d, "upsample": "transposed"}
        return cls(**d)

    @classmethod
    def load(cls, path) -> "TrainConfig":
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"config file not found: {path}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"config file {path} is not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise ValueError(f"config file {path} must hold a JSON object")
        return cls.from_dict(d)

    def mismatches(self, other: "TrainConfig") -> list[str]:
        a, b = self.to_dict(), other.to_dict()
        return [f"{k}: checkpoint has {b[k]!r}, you asked for {a[k]!r}"
                for k in a if k not in self.RUNTIME_FIELDS and a[k] != b[k]]


# --------------------------------------------------------------------------------------------
# Devices, precision, distribution
# --------------------------------------------------------------------------------------------
def pick_device(name: str = "auto") -> torch.device:
    """"auto" picks cuda, then mps (Apple), then cpu. An explicit but absent device is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but no CUDA GPU is visible (try --device auto)")
    if name not in ("cpu", "mps") and not name.startswith("cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu, cuda or mps")
    return torch.device(name)


def amp_dtype(device: torch.device, enabled: bool) -> Optional[torch.dtype]:
    """bf16 where the GPU computes it natively (Ampere and newer), fp16 (with a GradScaler)
    otherwise — e.g. Colab's T4, where bf16 is only emulated and slow — None (fp32) on CPU."""
    if not enabled or device.type != "cuda":
        return None
    try:
        native_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:                      # torch < 2.3 counts only native support anyway
        native_bf16 = torch.cuda.is_bf16_supported()
    return torch.bfloat16 if native_bf16 else torch.float16


def dist_info() -> tuple[int, int]:
    """(rank, world size) under torchrun, (0, 1) otherwise."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


# --------------------------------------------------------------------------------------------
# Networks and data for each task
# --------------------------------------------------------------------------------------------
def build_networks(cfg: TrainConfig) -> dict[str, nn.Module]:
    """The modules of a task, by name. G is the generator every task has."""
    if cfg.task == "looks":
        from .looks import COND_DIM
        look_g = lambda route: LookGenerator(style_dim=cfg.style_dim, cond_dim=COND_DIM, ngf=cfg.ngf,
                                             n_blocks=cfg.n_blocks, backbone=cfg.backbone,
                                             head=cfg.head, work_size=cfg.work_size, c_route=route,
                                             basis=cfg.basis)
        from .models import N_STATS
        cond_dim = (N_STATS if cfg.d_cond in ("stats", "joint") else cfg.style_dim) + COND_DIM
        if cfg.d_cond == "joint" and cfg.d_arch != "colour":
            raise ValueError("config: d_cond 'joint' is a ColourCritic's (d_arch 'colour')")
        D = (ColourCritic(cond_dim=cond_dim, hidden=4 * cfg.ndf, size=cfg.d_size, joint=cfg.d_cond == "joint")
             if cfg.d_arch == "colour"
             else Discriminator(in_channels=3, cond_dim=cond_dim, ndf=cfg.ndf, n_layers=cfg.d_layers))
        return {"E": StyleEncoder(style_dim=cfg.style_dim, work_size=cfg.image_size,
                                conv=cfg.encoder == "conv+stats"),
                # F undoes G's edit, c included, so c always reaches it through its CBNs
                "G": look_g(cfg.c_route), "F": look_g("cbn"), "D": D}
    from .avatars import ATTR_DIM
    from .looks import N_PARAMS
    return {"G": AvatarGenerator(input_dim=cfg.z_dim, output_dim=3, style_dim=N_PARAMS,
                                 condition_dim=ATTR_DIM, image_size=cfg.image_size,
                                 upsample=cfg.upsample, ngf=cfg.avatar_ngf),
            "D": Discriminator(in_channels=3, cond_dim=N_PARAMS + ATTR_DIM,
                               ndf=cfg.ndf, n_layers=cfg.d_layers,
                               aux_dim=ATTR_DIM if cfg.lambda_cls else 0, mbstd=cfg.d_mbstd)}


def build_stream(cfg: TrainConfig, rank: int = 0, world: int = 1, device=None):
    from . import data
    if cfg.task == "avatars":   # drawn where the networks are: on a GPU the CPU renderer was the bottleneck
        return data.AvatarStream(size=cfg.image_size, batch_size=cfg.batch_size, seed=cfg.seed, device=device)
    # Crops are cut and looks rendered where the networks are; the ground truth is made only
    # when a loss reads it (the paired baseline).
    return data.LookStream(size=cfg.image_size, batch_size=cfg.batch_size, split="train",
                           refs=cfg.refs, looks=cfg.looks, seed=cfg.seed, prior_pool=cfg.prior_pool,
                           content_dir=cfg.content_dir, styled_dir=cfg.styled_dir,
                           rank=rank, world_size=world, device=device or "cpu",
                           ground_truth=cfg.lambda_paired > 0, condition=cfg.condition)


_C0 = torch.tensor([0.0, 0.0, 1.0])   # c = (vivid 0, warmth 0, strength 1): the look itself


def to_net(t: torch.Tensor) -> torch.Tensor:
    """[0, 1] at the edges, [-1, 1] inside the networks."""
    return t * 2 - 1


def to_img(t: torch.Tensor) -> torch.Tensor:
    return ((t.float() + 1) / 2).clamp(0, 1)


class ImagePool:
    """A buffer of past fakes (with their conditions): half of each batch D sees is old.

    Randomness comes from the training generator, so it is part of the bit-exact state.
    """

    def __init__(self, size: int):
        self.size, self.images, self.conds = size, None, None

    def query(self, images: torch.Tensor, conds: torch.Tensor, gen: torch.Generator):
        if self.size == 0:
            return images, conds
        if self.images is None:
            self.images, self.conds = images.detach().clone(), conds.detach().clone()
            return images, conds
        out_i, out_c = images.clone(), conds.clone()
        for i in range(images.shape[0]):
            if self.images.shape[0] < self.size:                      # still filling up
                self.images = torch.cat([self.images, images[i:i + 1].detach()])
                self.conds = torch.cat([self.conds, conds[i:i + 1].detach()])
            elif torch.rand((), generator=gen).item() < 0.5:          # swap with an old fake
                j = int(torch.randint(self.size, (), generator=gen))
                out_i[i], out_c[i] = self.images[j], self.conds[j]
                self.images[j], self.conds[j] = images[i].detach(), conds[i].detach()
        return out_i, out_c


# --------------------------------------------------------------------------------------------
# Checkpoints: safetensors only, written atomically
# --------------------------------------------------------------------------------------------
def atomic_save(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _flatten_optimizer(prefix: str, opt: torch.optim.Optimizer, out: dict, meta: dict) -> None:
    sd = opt.state_dict()
    for pid, st in sd["state"].items():
        for k, v in st.items():
            out[f"{prefix}.state.{pid}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    meta[prefix] = json.dumps(sd["param_groups"])


def _unflatten_optimizer(prefix: str, opt: torch.optim.Optimizer, tensors: dict, meta: dict) -> None:
    state: dict = {}
    for key, v in tensors.items():
        if key.startswith(prefix + ".state."):
            pid, k = key[len(prefix) + 7:].split(".", 1)
            state.setdefault(int(pid), {})[k] = v
    opt.load_state_dict({"state": state, "param_groups": json.loads(meta[prefix])})


def read_checkpoint(path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file, with a clear error naming a bad file."""
    from safetensors import safe_open
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        return load_file(str(path)), meta
    except Exception as e:  # safetensors raises its own error types for damaged headers
        raise ValueError(f"{path} is not a readable safetensors checkpoint ({e})") from None


# --------------------------------------------------------------------------------------------
# The trainer
# --------------------------------------------------------------------------------------------
class Trainer:
    """Owns networks, optimisers and data for one run; `fit()` runs it to `config.steps`."""

    def __init__(self, config: TrainConfig, resume: bool = False, progress: bool = True):
        self.cfg = config
        self.rank, self.world = dist_info()
        self.distributed = self.world > 1
        self.device = pick_device(config.device)
        if self.distributed and not dist.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            dist.init_process_group(backend)
        self.is_main = self.rank == 0
        self.out = Path(config.out)
        self.progress = progress and self.is_main

        torch.manual_seed(config.seed)
        self.nets = build_networks(config)
        for net in self.nets.values():
            net.to(self.device)
            if config.channels_last:
                net.to(memory_format=torch.channels_last)
        if config.init and not resume:
            self._init_from(config.init)
        gen_names = [n for n in ("E", "G", "F") if n in self.nets]
        self.ema = {n: copy.deepcopy(self.nets[n]).eval().requires_grad_(False) for n in gen_names if n != "F"}
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam([p for n in gen_names for p in self.nets[n].parameters()],
                                      lr=config.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.nets["D"].parameters(), lr=config.lr_d, betas=betas)
        decay_from = int(config.decay_start * config.steps)
        rule = lambda s: 1.0 - max(0, s - decay_from) / max(1, config.steps - decay_from)
        self.sched = [torch.optim.lr_scheduler.LambdaLR(o, rule) for o in (self.opt_g, self.opt_d)]

        self.amp = amp_dtype(self.device, config.amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp == torch.float16)
        self.d_loss_fn, self.g_loss_fn = losses.gan_loss_fns(config.gan_loss)
        self.pool = ImagePool(config.pool_size)
        self.gen = torch.Generator().manual_seed(config.seed * 1000 + self.rank)
        self.stream = build_stream(config, self.rank, self.world, self.device)
        self.step_num = 0
        self.history: list[dict] = []
        if resume:
            self.load()
        elif self.is_main and (self.out / CHECKPOINT).exists():
            raise TrainingError(f"{self.out / CHECKPOINT} exists: pass --resume to continue it, "
                                f"or choose another --out")

        # Wrap after loading (state dicts keep their plain names).
        self.models = dict(self.nets)
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP
            ids = [self.device.index] if self.device.type == "cuda" else None
            # Batch-norm statistics stay per rank (broadcast_buffers=False). Newer torch warns that
            # the flag is deprecated, and its own message says to keep it for rank-local buffers
            # until a replacement that never syncs them exists; torch 2.1 knows only this flag.
            import warnings
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*broadcast_buffers.*", category=FutureWarning)
                self.models = {n: DDP(m, device_ids=ids, broadcast_buffers=False) for n, m in self.nets.items()}
        if config.compile:
            self.models = {n: torch.compile(m) for n, m in self.models.items()}

    def _init_from(self, source: str) -> None:
        """Start E and G from trained weights (fine-tuning): "pretrained" (the shipped looks
        model) or a run folder / model.safetensors. F and D start fresh. The architecture
        must be the same; a clear error says which setting differs."""
        from .api import WEIGHTS_DIR
        if self.cfg.task != "looks":
            raise ValueError("config: init is for the looks task")
        folder = WEIGHTS_DIR / "looks" if source == "pretrained" else Path(source)
        file = folder / MODEL if folder.is_dir() else folder
        tensors, meta = read_checkpoint(file)
        if "config" in meta:
            theirs = TrainConfig.from_dict(json.loads(meta["config"]))
            arch = ("style_dim", "ngf", "n_blocks", "backbone", "head", "work_size", "encoder",
                    "image_size", "c_route")
            diff = [f"{k}={getattr(theirs, k)!r} there, {getattr(self.cfg, k)!r} here"
                    for k in arch if getattr(theirs, k) != getattr(self.cfg, k)]
            if diff:
                raise TrainingError(f"init {file}: another architecture ({'; '.join(diff)})")
        if any(k.startswith("ema.") for k in tensors):    # a full training checkpoint
            tensors = {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}
        for name in ("E", "G"):
            state = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")}
            try:
                self.nets[name].load_state_dict(state)
            except RuntimeError as e:
                raise TrainingError(f"init {file}: the weights of {name} do not fit this configuration "
                                    f"({' '.join(str(e).split())[:300]})") from None

    # -- one training step: §3.3 steps 2-6 --------------------------------------------------
    def autocast(self):
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp)

    def _prepare(self, batch: dict) -> dict:
        out = {}
        for k, v in batch.items():
            if torch.is_tensor(v):
                v = v.to(self.device, non_blocking=True)
                if self.cfg.channels_last and v.dim() == 4:
                    v = v.contiguous(memory_format=torch.channels_last)
            out[k] = v
        return out

    def step(self) -> dict[str, float]:
        b = self._prepare(self.stream.batch(self.gen))                      # step 2
        m = self.models
        with self.autocast():
            if self.cfg.task == "looks":
                fake, cond, real, real_cond, extra = self._looks_forward(b)  # step 3
            else:
                fake, cond, real, real_cond, extra = self._avatars_forward(b)
            # step 4-5 for D: real images and (pooled) fakes, each with its condition
            pooled, pooled_cond = self.pool.query(fake.detach(), cond.detach(), self.gen)
            if self.cfg.lambda_cls:   # AC-GAN: D also learns to name the attributes of real images
                real_logits, real_aux = m["D"](real, real_cond, return_aux=True)
                loss_cls_d = self._attribute_loss(real_aux, b["cond"])
                loss_d = self.d_loss_fn(real_logits, m["D"](pooled, pooled_cond)) + self.cfg.lambda_cls * loss_cls_d
            else:
                loss_d = self.d_loss_fn(m["D"](real, real_cond), m["D"](pooled, pooled_cond))
        self._check_finite("L_D", loss_d)
        self.opt_d.zero_grad(set_to_none=True)                               # step 6 for D
        self.scaler.scale(loss_d).backward()
        self.scaler.step(self.opt_d)

        with self.autocast():                                                # step 5 for G
            # D's parameters get gradients here too; they are cleared before D's next step
            # (the dcgan/main.py pattern, and what DDP expects: every parameter used each step).
            if self.cfg.lambda_cls:   # ... and G must make them recognisable in its fakes
                fake_logits, fake_aux = m["D"](fake, cond.detach(), return_aux=True)
                loss_adv = self.g_loss_fn(fake_logits)
                extra["cls"] = (self.cfg.lambda_cls, self._attribute_loss(fake_aux, b["cond"]))
            else:
                loss_adv = self.g_loss_fn(m["D"](fake, cond.detach()))
            loss_g = self.cfg.lambda_adv * loss_adv + sum(w * v for w, v in extra.values() if w)
        self._check_finite("L_G", loss_g)
        self.opt_g.zero_grad(set_to_none=True)                               # step 6 for G
        self.scaler.scale(loss_g).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()
        for s in self.sched:
            s.step()
        self._update_ema()
        self.step_num += 1
        logs = {"L_D": loss_d.item(), "L_G": loss_g.item(), "adv": loss_adv.item()}
        logs.update({k: v.item() for k, (w, v) in extra.items()})
        if self.cfg.lambda_cls:
            logs["cls_D"] = loss_cls_d.item()
        return logs

    @staticmethod
    def _attribute_loss(aux_logits: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        from .avatars import ATTRIBUTES
        return losses.attribute_loss(aux_logits, onehot, [len(v) for v in ATTRIBUTES.values()])

    def _looks_forward(self, b):
        """G(x | s, c) with s = E(refs); F(G(x)) and G(F(y)) for the cycle loss (§4.3, §4.5)."""
        m, cfg = self.models, self.cfg
        x, y, c = to_net(b["x"]), to_net(b["y"]), b["c"]
        extra = {}
        one_feed = getattr(self.stream, "folder_mode", False)
        if cfg.lambda_style and not one_feed:
            # E learns from what a feed does tell: which posts belong together. The codes of
            # two disjoint halves of each feed's references must agree, and differ from the
            # other feeds' (losses.contrastive_agreement). G and D then read a fixed code.
            codes = m["E"](to_net(b["refs"]), per_reference=True)
            half = codes.shape[1] // 2
            extra["style"] = (cfg.lambda_style, losses.contrastive_agreement(
                codes[:, :half].mean(1), codes[:, half:].mean(1), cfg.style_temperature))
            s = codes.mean(1).detach()
        elif cfg.lambda_style:   # your own folders: one feed, nothing to contrast it with
            s = m["E"](to_net(b["refs"])).detach()
        else:
            s = m["E"](to_net(b["refs"]))
        fake_y = m["G"](x, s, c)
        if cfg.lambda_cond:   # c taught without pairs: G at c must be c applied to G at c0
            full = m["G"](x, s, torch.tensor([0.0, 0.0, 1.0], device=c.device).expand_as(c))
            extra["cond"] = (cfg.lambda_cond, losses.condition_consistency(fake_y, x, full, c))
        rec_x = m["F"](fake_y, s, c)
        fake_x = m["F"](y, s, c)
        rec_y = m["G"](fake_x, s, c)
        extra["cyc"] = (cfg.lambda_cyc, losses.cycle_consistency_loss(x, rec_x, y, rec_y))
        if cfg.lambda_id:
            extra["id"] = (cfg.lambda_id, losses.identity_loss(y, m["G"](y, s, c)))
        if cfg.lambda_sty:
            # style reconstruction (Choi et al. 2020): the look G makes at full strength must be
            # read by E as the look of the feed. E (frozen for this loss, in eval mode) learned
            # from feeds alone which posts share a look, so this is a pair-free, dense signal.
            full = m["G"](x, s, _C0.to(c.device).expand_as(c))
            extra["sty"] = (cfg.lambda_sty, losses.style_reconstruction(self.nets["E"], full, s))
        if cfg.lambda_pretext and b.get("filter_only") is not None and b["filter_only"].any():
            # the pretext task: pairs exist for the package's own random filters, so G learns
            # colour mappings that carry over to any look (Ke et al. 2023). The named looks and
            # the slider prior, and every feed, stay unpaired.
            rows = b["filter_only"]
            target = to_net(self.stream.ground_truth(b))[rows]
            extra["pretext"] = (cfg.lambda_pretext, (fake_y[rows] - target).abs().mean())
        if cfg.lambda_paired:
            if b.get("x_gt") is None:
                raise TrainingError("lambda_paired needs ground truth, which your own folders do not have")
            extra["paired"] = (cfg.lambda_paired, (fake_y - to_net(b["x_gt"])).abs().mean())
        cond = torch.cat([s, c], 1)
        if cfg.d_cond in ("stats", "joint"):   # D compares with the feed itself: its references' statistics
            with torch.no_grad():
                cond = torch.cat([shrunk_statistics(to_net(b["refs"]), cfg.d_size), c.float()], 1)
        # D conditions on the style code without sending gradients into the encoder: E learns
        # from the contrastive loss above or, without it, only from G's losses (as in StarGAN v2).
        return fake_y, cond, y, cond.detach(), extra

    def _avatars_forward(self, b):
        """G(z | style, attributes) of §5.3.1; D judges (image, [style, attributes]) pairs."""
        n, cfg = b["img"].shape[0], self.cfg
        z = torch.randn(n, cfg.z_dim, generator=self.gen).to(self.device)
        cond = torch.cat([b["style"], b["cond"]], 1)
        if not cfg.lambda_ms:
            fake = self.models["G"](z, b["style"], b["cond"])
            return fake, cond, to_net(b["img"]), cond, {}
        # mode seeking: the first half of the batch drawn a second time from other noise, in the
        # same forward pass (one set of batch statistics); D sees only the first n images
        h = n // 2
        z2 = torch.randn(h, cfg.z_dim, generator=self.gen).to(self.device)
        both = self.models["G"](torch.cat([z, z2]), torch.cat([b["style"], b["style"][:h]]),
                                torch.cat([b["cond"], b["cond"][:h]]))
        fake, again = both[:n], both[n:]
        extra = {"ms": (cfg.lambda_ms, losses.mode_seeking_loss(fake[:h], again, z[:h], z2))}
        return fake, cond, to_net(b["img"]), cond, extra

    def _check_finite(self, name: str, loss: torch.Tensor) -> None:
        if not torch.isfinite(loss).all():
            kept = self.out / CHECKPOINT
            raise TrainingError(
                f"{name} became {loss.item()} at step {self.step_num + 1}; training stopped. "
                + (f"The last good checkpoint is kept at {kept}." if kept.exists() else
                   "No checkpoint had been written yet.")
                + " Try a lower learning rate, --device cpu, or amp off.")

    @torch.no_grad()
    def _update_ema(self):
        # The usual warm-up: an average over the steps so far while there are few of them,
        # so a short run's EMA is not dominated by the random initialisation.
        d = min(self.cfg.ema_decay, (1 + self.step_num) / (10 + self.step_num))
        for name, ema in self.ema.items():
            for pe, p in zip(ema.parameters(), self.nets[name].parameters()):
                pe.lerp_(p, 1 - d)
            for be, bb in zip(ema.buffers(), self.nets[name].buffers()):
                be.copy_(bb)

    # -- the loop ------------------------------------------------------------------------
    def fit(self, until: Optional[int] = None) -> list[dict]:
        """Train to step `until` (default: config.steps), then save. The lr schedule always
        follows config.steps, so stopping early and resuming is the same as one run."""
        cfg = self.cfg
        until = cfg.steps if until is None else min(until, cfg.steps)
        stop = {"now": False}

        def on_sigint(signum, frame):           # first Ctrl-C: finish the step, save, exit
            if stop["now"]:
                raise KeyboardInterrupt
            stop["now"] = True
            if self.is_main:
                print("\nCtrl-C: finishing this step and saving a checkpoint (Ctrl-C again to abort)")

        old = signal.signal(signal.SIGINT, on_sigint) if _in_main_thread() else None
        # "seconds" in the history is training time since step 0, summed over resumed runs
        t0 = time.perf_counter() - (self.history[-1]["seconds"] if self.history else 0.0)
        bar = tqdm(total=cfg.steps, initial=self.step_num, disable=not self.progress,
                   desc=f"train {cfg.task}", unit="step")
        try:
            if self.is_main:
                self.out.mkdir(parents=True, exist_ok=True)
                atomic_write_text(self.out / CONFIG, json.dumps(cfg.to_dict(), indent=2))
            for net in self.nets.values():
                net.train()
            if getattr(self.stream, "folder_mode", False) and self.cfg.init:
                # Fine-tuning on one feed: the feed teaches E nothing (its code is detached: there
                # is no other feed to contrast with), and in train mode its batch norm would
                # overwrite the statistics it learned over thousands of feeds with this one feed's,
                # normalising the very look it must describe away. Measured: that alone took a
                # fine-tune from 3.9 to 9.6 ΔE2000 in 50 steps with G frozen (issue 21's note).
                self.nets["E"].eval()
            while self.step_num < until and not stop["now"]:
                logs = self.step()
                bar.update(1)
                if self.step_num % cfg.log_every == 0 or self.step_num == until:
                    logs = {"step": self.step_num, "seconds": round(time.perf_counter() - t0, 2), **logs}
                    self.history.append(logs)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items() if k not in ("step", "seconds")})
                if self.is_main and cfg.sample_every and self.step_num % cfg.sample_every == 0:
                    self.save_samples()
                if self.step_num % cfg.ckpt_every == 0 and self.step_num < until:
                    self.save()
                if self.is_main and cfg.val_every and self.step_num % cfg.val_every == 0:
                    self.keep_if_best(self.validate())
            self.save()
            if self.is_main and cfg.sample_every:
                self.save_samples()
        finally:
            bar.close()
            if old is not None:
                signal.signal(signal.SIGINT, old)
        return self.history

    # -- checkpoints ---------------------------------------------------------------------
    def state_tensors(self) -> tuple[dict, dict]:
        t, meta = {}, {}
        for name, net in self.nets.items():
            t.update({f"{name}.{k}": v for k, v in net.state_dict().items()})
        for name, net in self.ema.items():
            t.update({f"ema.{name}.{k}": v for k, v in net.state_dict().items()})
        _flatten_optimizer("opt_g", self.opt_g, t, meta)
        _flatten_optimizer("opt_d", self.opt_d, t, meta)
        t["rng.data"] = self.gen.get_state()
        t["rng.torch"] = torch.get_rng_state()
        if self.pool.images is not None:
            t["pool.images"], t["pool.conds"] = self.pool.images, self.pool.conds
        if self.scaler.is_enabled():
            meta["scaler"] = json.dumps(self.scaler.state_dict())
        meta.update(step=str(self.step_num), config=json.dumps(self.cfg.to_dict()),
                    history=json.dumps(self.history[-200:]),
                    sched=json.dumps([s.state_dict() for s in self.sched], default=str))
        return t, meta

    def save(self) -> None:
        """Write the full state (resume) and the inference weights, each atomically."""
        if not self.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        t, meta = self.state_tensors()
        atomic_save(t, self.out / CHECKPOINT, meta)
        weights = {k[4:]: v for k, v in t.items() if k.startswith("ema.")}
        atomic_save(weights, self.out / MODEL, {"config": meta["config"], "step": meta["step"]})
        atomic_write_text(self.out / CONFIG, json.dumps(self.cfg.to_dict(), indent=2))

    def load(self) -> None:
        path = self.out / CHECKPOINT
        t, meta = read_checkpoint(path)
        saved = TrainConfig.from_dict(json.loads(meta["config"]))
        diff = self.cfg.mismatches(saved)
        if diff:
            raise TrainingError(f"{path} was trained with a different config; refusing to resume: "
                                + "; ".join(diff))
        for name, net in self.nets.items():
            net.load_state_dict({k[len(name) + 1:]: v for k, v in t.items() if k.startswith(name + ".")})
        for name, net in self.ema.items():
            p = f"ema.{name}."
            net.load_state_dict({k[len(p):]: v for k, v in t.items() if k.startswith(p)})
        _unflatten_optimizer("opt_g", self.opt_g, t, meta)
        _unflatten_optimizer("opt_d", self.opt_d, t, meta)
        for s, sd in zip(self.sched, json.loads(meta["sched"])):
            s.load_state_dict(sd)
        self.gen.set_state(t["rng.data"])
        torch.set_rng_state(t["rng.torch"])
        if "pool.images" in t:
            self.pool.images = t["pool.images"].to(self.device)
            self.pool.conds = t["pool.conds"].to(self.device)
        if "scaler" in meta and self.scaler.is_enabled():
            self.scaler.load_state_dict(json.loads(meta["scaler"]))
        self.step_num = int(meta["step"])
        self.history = json.loads(meta.get("history", "[]"))
        if self.distributed:   # ranks other than 0 draw fresh, but reproducible, data
            self.gen.manual_seed(self.cfg.seed * 1000 + self.rank + 7919 * self.step_num)

    @torch.no_grad()
    def validate(self) -> dict:
        """Score the EMA networks on the val split (`metrics.validate_looks`) and append the
        scores, with the step, to `val.jsonl` in the run folder: the validation curve."""
        from .metrics import validate_looks
        if self.cfg.task != "looks":
            raise ValueError("validation is defined for the looks task")
        scores = {"step": self.step_num, **{k: round(v, 4) for k, v in validate_looks(
            self.ema["G"], self.ema["E"], self.cfg.condition).items()}}
        with open(self.out / "val.jsonl", "a") as fh:
            fh.write(json.dumps(scores) + "\n")
        return scores

    def keep_if_best(self, scores: dict) -> bool:
        """Model selection on the val split: when the mean of the validation scores (named looks,
        unseen slider looks, unseen app filters) is the lowest so far, copy the EMA weights to
        `best/` in the run folder (a model folder: `load_model(run / "best")`), with the step
        and scores in `best/val.json`. The test split is never read, so the test numbers of a
        selected checkpoint stay honest."""
        score = sum(scores[k] for k in ("named", "unseen", "filters")) / 3
        best = self.out / "best"
        mark = best / "val.json"
        if mark.exists() and json.loads(mark.read_text())["score"] <= score:
            return False
        best.mkdir(parents=True, exist_ok=True)
        t, meta = self.state_tensors()
        weights = {k[4:]: v for k, v in t.items() if k.startswith("ema.")}
        atomic_save(weights, best / MODEL, {"config": meta["config"], "step": meta["step"]})
        atomic_write_text(best / CONFIG, json.dumps(self.cfg.to_dict(), indent=2))
        atomic_write_text(mark, json.dumps({**scores, "score": round(score, 4)}) + "\n")
        return True

    def save_samples(self) -> Path:
        """A grid of samples from the EMA generator on a fixed batch: the run's picture diary."""
        from torchvision.utils import save_image
        g = torch.Generator().manual_seed(12345)
        b = self._prepare(self.stream.batch(g))
        if self.cfg.task == "looks":
            s = self.ema["E"](to_net(b["refs"]))
            fake = to_img(self.ema["G"](to_net(b["x"]), s, b["c"]))
            gt = self.stream.ground_truth(b)
            rows = [b["x"], fake, b["y"]] + ([gt] if gt is not None else [])
        else:
            z = torch.randn(b["img"].shape[0], self.cfg.z_dim, generator=g).to(self.device)
            rows = [to_img(self.ema["G"](z, b["style"], b["cond"])), b["img"]]
        path = self.out / f"samples_{self.step_num:06d}.png"
        save_image(torch.cat([r.float().cpu() for r in rows]), path, nrow=rows[0].shape[0], padding=1)
        return path


def _in_main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def train(config: TrainConfig, resume: bool = False, progress: bool = True) -> Trainer:
    """Run (or resume) a training run and return its trainer (`pretext.EncoderTrainer` for
    `stage="encoder"`, `pretext.PretextTrainer` with `lambda_drawn`)."""
    if config.stage == "encoder" or config.lambda_drawn:
        from .pretext import EncoderTrainer, PretextTrainer
        trainer = (EncoderTrainer if config.stage == "encoder" else PretextTrainer)(
            config, resume=resume, progress=progress)
    else:
        trainer = Trainer(config, resume=resume, progress=progress)
    try:
        trainer.fit()
    finally:
        if trainer.distributed and dist.is_initialized():
            dist.destroy_process_group()
    return trainer
