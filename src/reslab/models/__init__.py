"""Model definitions for the study (docs/lab.md): `mlp.MLP`, `cnn.CNN`, and `build.build_model`,
which rebuilds either from a checkpoint's meta. Imports nothing, so that the configuration can
validate a depth against `CNN_MIN_DEPTH` without loading torch."""

CNN_MIN_DEPTH = 9  # (depth - 1) // 2 blocks; three downsamplings need blocks // 4 >= 1
