"""The manifest's columns (DESIGN §2) as one pyarrow schema, shared by readers and writers."""

from __future__ import annotations

import pyarrow as pa

REQUIRED_COLUMNS = (
    "sop_instance_uid",
    "sop_class_uid",
    "series_instance_uid",
    "study_instance_uid",
    "patient_id",
    "fingerprint",
)

PATIENT_COLUMNS = (
    "patient_id",
    "issuer_of_patient_id",
    "patient_name",
    "patient_birth_date",
    "patient_sex",
)
STUDY_COLUMNS = (
    "accession_number",
    "study_id",
    "study_date",
    "study_time",
    "study_description",
    "referring_physician_name",
    "study_status",
)
SERIES_COLUMNS = ("series_number", "modality", "series_description")
INSTANCE_COLUMNS = ("instance_number", "object_size", "transfer_syntax_uid")

UID_COLUMNS = (
    "sop_instance_uid",
    "sop_class_uid",
    "series_instance_uid",
    "study_instance_uid",
    "transfer_syntax_uid",
)

INT_COLUMNS = {
    "series_number": pa.int32(),
    "instance_number": pa.int32(),
    "object_size": pa.int64(),
}

MANIFEST_SCHEMA = pa.schema(
    [pa.field(name, pa.string(), nullable=name != "sop_instance_uid") for name in REQUIRED_COLUMNS]
    + [pa.field(name, pa.string()) for name in PATIENT_COLUMNS[1:]]
    + [pa.field(name, pa.string()) for name in STUDY_COLUMNS]
    + [
        pa.field("series_number", pa.int32()),
        pa.field("modality", pa.string()),
        pa.field("series_description", pa.string()),
    ]
    + [
        pa.field("instance_number", pa.int32()),
        pa.field("object_size", pa.int64()),
        pa.field("transfer_syntax_uid", pa.string()),
    ]
    + [pa.field("object_uri", pa.string())]
)

MANIFEST_FORMAT = 1
FINGERPRINT_VERSION = "v1"
