"""influencer_gan — the companion package of the Influencer-GAN book.

Conditional GANs for influencer style transfer (a photo-editing "look" learned from an
influencer's feed) and personalised generation (avatars with chosen attributes).
Each module holds one concept of the source document:

    looks.py    §1.2/§3.1  parametric, differentiable photo-editing looks (exact ground truth)
    avatars.py  §3.1       procedural avatars with attribute labels and person masks
    data.py     §3.1/§5.2  bundled photos, training streams, safe loading of your own folders
    cbn.py      §4.4       conditional batch normalisation
    models.py   §3.2/§5.3  generators, style encoder, projection discriminator
    losses.py   §4.1–§4.5  the adversarial, cycle-consistency and identity losses
    train.py    §3.3       the adversarial training loop, checkpoints, DDP
    api.py      §3.4       inference: load_pretrained(...).stylize / .generate
"""
__version__ = "0.1.0"
