"""Running a benchmark: cells planned and run stage by stage, the one training loop, generation, devices, signals and fault points."""
