"""Figures and tables that turn metrics into the study's argument."""
