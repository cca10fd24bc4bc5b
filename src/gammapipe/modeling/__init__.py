"""gammapipe.modeling (under construction in later issues)."""
