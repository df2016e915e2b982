"""Training trials: the model session, hyperparameter application and TRL SFT runs."""
