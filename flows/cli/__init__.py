"""The `spokesync` command line, one module per command group."""
