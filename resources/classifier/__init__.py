"""ResNet image classifiers (`classifier.resnet`): schemas, data, model, training, evaluation, plots.

`resources.classifier.config` imports no torch, so the API can validate configs and parameters
cheaply; `data`, `model`, `train`, `evaluate` and `plots` are imported only by workers.
"""
