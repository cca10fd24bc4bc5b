"""Low-level helpers shared by all gammapipe layers (no imports of higher layers)."""
