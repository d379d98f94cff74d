"""Training-free control baselines every augmentation method must beat."""
