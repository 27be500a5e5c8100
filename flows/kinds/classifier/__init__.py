"""The image classifiers' shared code (`classifier.resnet` and `classifier.blocks` run the same runners): the
version's model and data, the runner of each mode, the parameters of each mode and the activation-memory estimate."""
