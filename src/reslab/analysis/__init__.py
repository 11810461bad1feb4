"""Analyses of trained models (gradient flow)."""
