"""Retrieval: a study as the catalog says it is now, to a folder or a PACS."""
