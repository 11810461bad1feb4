"""Datasets on disk: where the bytes come from (mirror, torchvision), the prepared file."""
