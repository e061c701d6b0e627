"""FusionRoom's benchmarks (issue 10): `python -m bench [--quick]`, writes bench/README.md."""
