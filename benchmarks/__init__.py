"""Speed and memory of beras against TF/Keras, run by hand with `make bench` (never as timed tests)."""
