"""Data files of the enrichment stage (feed snapshot, owner map example); no code."""
