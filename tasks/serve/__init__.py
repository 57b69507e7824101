"""The hub as a DICOM Query/Retrieve SCP (`spokesync serve`): matching, answers, retrieval."""
