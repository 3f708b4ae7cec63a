"""Figures drawn from run folders (matplotlib, Agg backend; no display needed)."""
