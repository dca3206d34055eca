"""Wire objects: what requests carry and responses return (domain objects stay in mdm)."""
