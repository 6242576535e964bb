"""The benchmark suite (`make bench`): figures with floors measured in the same run."""
