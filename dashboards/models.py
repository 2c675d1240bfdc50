"""Dashboards' own records (label-error suspect reviews and the like)."""
