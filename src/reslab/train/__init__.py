"""The one training engine and its checkpoints."""
