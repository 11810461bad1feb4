"""Datasets as files on disk: where the bytes come from (mirror, torchvision, a stand-in) and
the prepared file that `prepare_data` writes (loaded into batches by `reslab.batches`)."""
