"""Names: the reference list of variants and the forms names are compared in."""

#: The name columns whose frequencies the store keeps, by kind (mdm.store.names).
FREQUENCY_COLUMNS = {"first": "first_name", "last": "last_name"}
