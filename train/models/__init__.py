"""Model families, one module each, and the registry that maps a family name to its class."""
