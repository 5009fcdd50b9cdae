"""asv (airspeed velocity) benchmarks of neural_trader; see asv.conf.json and benchmarks/README.md."""
