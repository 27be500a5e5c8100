"""torchvision ResNets (`classifier.resnet`): the model, its named units and its graph."""
