"""Datasets: where the bytes come from, the prepared file, and tensor-resident loading."""
