"""gammapipe.estimators (under construction in later issues)."""
