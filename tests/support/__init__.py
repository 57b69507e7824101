"""What the tests share: builders, real peers (Orthanc, DCMTK), scenarios."""
