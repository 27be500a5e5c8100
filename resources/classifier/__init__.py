"""Image classifiers: ResNets (`classifier.resnet`) and models from layer blocks (`classifier.blocks`) —
schemas, data, models, training, evaluation, plots, INT8, export, inspection and weight edits.

`resources.classifier.config` imports no torch, so the API can validate configs and parameters
cheaply; `data`, `model`, `train`, `evaluate` and `plots` are imported only by workers.
"""
