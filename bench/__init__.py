"""Benchmarks of spokesync at data-center scale (docs/benchmarks.md): generators and timers."""
