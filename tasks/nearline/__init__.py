"""Nearline storage: write-once series TARs, volumes, verify, rebuild."""
