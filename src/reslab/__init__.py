"""reslab: residual connections in deep MLPs and CNNs, and transfer to CIFAR-100, with DVC."""

from reslab.core.errors import ReslabError

__all__ = ["ReslabError"]
