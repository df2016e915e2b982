"""The qtrain KFP pipeline and its client (imports kfp)."""
