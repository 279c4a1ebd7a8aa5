"""Training: the S2K estimator (:mod:`s2k.train.estimator`), with config dataclasses turned into CLI flags
(:mod:`s2k.train.options`)."""
