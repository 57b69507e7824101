"""The spoke-truth oracle (issue 15): a spoke kept as real DICOM files, judged object by object."""
