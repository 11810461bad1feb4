"""Datasets in memory: tensor-resident loading and batched augmentation."""
