"""The terminal app (Textual): screens show state and post messages; the core decides."""
