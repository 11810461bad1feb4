"""What every stage uses: config and params, the transfer ladder, output paths, files (atomic
writes, metrics, tables), wandb tracking, live progress, errors and the stage runner."""
