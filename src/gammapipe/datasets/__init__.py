"""gammapipe.datasets (under construction in later issues)."""
