"""beatgan.training: data preparation, kit rendering, training and evaluation."""
