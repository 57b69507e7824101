"""Spoke sources the hub pulls from: PACS over DICOMweb or DIMSE, turned into spoke drops."""
