"""Model definitions for the study (docs/lab.md): `mlp.MLP`, `cnn.CNN`, and
`build.build_model`, which rebuilds either from a checkpoint's meta."""
