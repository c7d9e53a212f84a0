"""Policy files (scoring weights and thresholds) that people edit; loaded by processors.score."""
