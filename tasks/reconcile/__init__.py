"""One run of one spoke: stage, detect and plan, archive, commit."""
