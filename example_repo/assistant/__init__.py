"""Northwind Gadgets support assistant: the example AI system that pytest-rollout gates."""

from .app import Assistant, Reply, default_model
from .config import AppConfig, ConfigError, load_config
from .model import Completion, Model, SimulatedModel

__all__ = [
    "AppConfig",
    "Assistant",
    "Completion",
    "ConfigError",
    "Model",
    "Reply",
    "SimulatedModel",
    "default_model",
    "load_config",
]
