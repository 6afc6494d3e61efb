"""What every endpoint of the public API shares: errors, parsing, paging, schema, health."""
