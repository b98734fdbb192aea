"""musubi-tuner's three command lines: argument catalog, parsing and checks."""
