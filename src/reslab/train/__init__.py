"""The one training engine, its checkpoints, data parallelism, and a stage's training run."""
