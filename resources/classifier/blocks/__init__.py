"""Models written as a list of layer blocks (`classifier.blocks`): the schema, shapes, catalog and the model."""
