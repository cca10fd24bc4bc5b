"""gammapipe.makers (under construction in later issues)."""
