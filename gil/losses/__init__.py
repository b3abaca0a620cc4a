"""Losses: Generalized Inter-class Loss, OpenGait triplet baseline, BNNeck cross-entropy."""
