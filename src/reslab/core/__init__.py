"""What every stage uses: errors, params, atomic files, metrics and tracking, the stage runner."""
