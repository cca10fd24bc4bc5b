"""gammapipe.analysis (under construction in later issues)."""
