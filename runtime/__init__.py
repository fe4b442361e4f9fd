"""awpolicy runtime: applies a compiled bundle at launch (stdlib only)."""
