"""Domain-free kit shared by every package: ids, clock, crypto, actors, errors, safe outbound HTTP."""
