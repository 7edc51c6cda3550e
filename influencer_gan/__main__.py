"""`python -m influencer_gan ...` (and `torchrun ... -m influencer_gan train ...`)."""
import sys

from .cli import main

sys.exit(main())
