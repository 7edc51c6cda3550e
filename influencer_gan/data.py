"""Data, in one place: `ig.data.X` for every name of the four modules it gathers.

§3.1 of the document asks for three things: collect an influencer's pictures, annotate their
regions (person, background), and split them into training, validation and test sets. §5.2 then
loads a folder of images with torchvision. Four modules do it, without a single download:

    photos.py     the bundled photos and procedural scenes, split by whole photograph, and the
                  multi-scale random crops cut from them
    files.py      your own files and folders, loaded safely (§5.2's ImageFolder made safe)
    streams.py    the training streams: endless batches for looks and avatars
    make_data.py  `make-data`: the same data set as ImageFolder-compatible files on disk

`from influencer_gan.data import load_photos` and `ig.data.LookStream` keep working; each
name is defined once, in its own module.
"""
from .files import (EXTENSIONS, SECTION_5_2_TRANSFORM, ImageDataError, ImageDataWarning,  # noqa: F401
                    SafeImageFolder, list_images, load_image, open_rgb)
from .make_data import DEFAULT_COUNTS, file_digest, make_data, write_previews  # noqa: F401
from .photos import (PHOTO_SHARE, PHOTOS, SCENE_KINDS, SPLITS, CropBank, PhotoInfo, crop_boxes,  # noqa: F401
                     crop_geometry, cut, load_photos, load_scenes, load_sources, pyramid, random_crops)
from .streams import AvatarStream, LookStream, sample_condition, sample_looks  # noqa: F401

__all__ = ["PHOTOS", "PhotoInfo", "SPLITS", "load_photos", "load_scenes", "load_sources",
           "crop_geometry", "crop_boxes", "pyramid", "cut", "random_crops", "CropBank", "SECTION_5_2_TRANSFORM", "SafeImageFolder",
           "ImageDataError", "ImageDataWarning", "open_rgb", "load_image", "list_images",
           "sample_condition", "sample_looks", "LookStream", "AvatarStream", "make_data",
           "file_digest", "write_previews"]
