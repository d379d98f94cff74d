"""What a plugin is: hook specs, the plugin manager, the Generator / Classifier / Dataset / Trainable bases, typed hyperparameters and the contract checks."""
