"""Spoke drops: build one from DICOM files, read, check and stage it."""
