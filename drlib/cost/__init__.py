"""Cost: price table, estimate from the Sceptre project, actual spend, policies and charts."""
