"""Training: models, VGG-16 loss network, losses, data, the shared training loop."""
