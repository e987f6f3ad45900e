"""Domain-free kit: ids, clock, crypto, actors, errors, safe outbound HTTP."""
