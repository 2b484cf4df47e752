"""Predictions out: DeepLabCut-layout tables, plots."""
