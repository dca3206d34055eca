"""mdm: customer entity resolution and master data."""

__version__ = "0.1.0"
