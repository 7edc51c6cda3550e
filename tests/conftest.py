"""Shared test helpers: one CPU thread per test, and tiny configurations/models that run in seconds."""
import pytest
import torch

# A TrainConfig small enough for unit tests (32 px looks; the §5.3.1 avatar generator needs 64 px).
TINY = dict(batch_size=2, image_size=32, style_dim=16, ngf=8, n_blocks=1, work_size=32, ndf=8,
            d_layers=2, refs=2, z_dim=16, sample_every=0, log_every=1, device="cpu")


def tiny_config(out, task="looks", **kw):
    from influencer_gan.train import TrainConfig
    base = dict(TINY, image_size=64) if task == "avatars" else TINY
    return TrainConfig(**{**base, "task": task, "out": str(out), **kw})


def tiny_model(out, task="looks"):
    """An untrained tiny model, saved by the trainer and opened by the public loader."""
    from influencer_gan.api import load_model
    from influencer_gan.train import Trainer
    Trainer(tiny_config(out, task), progress=False).save()
    return load_model(out)


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
