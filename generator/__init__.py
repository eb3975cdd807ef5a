"""beatgan.generator: the WaveGAN networks, model cards, weights and the load-once generator."""
from .card import ModelCard
from .config import NAMED_CONFIGS, GeneratorConfig, named_config

__all__ = ["GeneratorConfig", "ModelCard", "NAMED_CONFIGS", "named_config"]
