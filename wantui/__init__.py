"""wantui: a terminal assistant for Wan LoRA training with musubi-tuner."""

__version__ = "0.1.0"
