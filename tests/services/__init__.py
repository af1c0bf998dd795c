"""CDS services that exist only in tests: they show what adding a service takes (issue 19)."""
