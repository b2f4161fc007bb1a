"""Premium calculation from the official tariff tables (placeholder until the quote issue lands)."""
