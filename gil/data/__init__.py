"""Data: the embedded CASIA-B twin, the OpenGait pkl reader, partitions, sampler, transforms."""
