"""gammapipe.stats (under construction in later issues)."""
