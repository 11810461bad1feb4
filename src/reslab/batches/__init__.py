"""Training and evaluation batches: a prepared dataset loaded as tensors, batched and augmented
on the device (its files on disk, and how they are made: `reslab.datasets`)."""
