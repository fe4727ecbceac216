"""Model builders shared by the demo, the tests and the benchmarks (beras and Keras twins)."""
