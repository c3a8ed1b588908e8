"""Studies built from qcalo's training and evaluation (each one a folder of results).

* :mod:`qcalo.experiments.noise_study` — seed 000 §2.4 / Figure 6: the QAG trained and
  evaluated under rescaled device noise, on Dask.
* :mod:`qcalo.experiments.noise_study_report` — its figure and the tests of the seed's claims.
"""
