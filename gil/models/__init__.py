"""Gait backbones at OpenGait parity and their registry."""
