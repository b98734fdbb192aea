"""Checks of the model files a project's steps name, read from their headers.

``refs`` finds the files, ``files`` checks each one, ``flags`` checks the DiT against
the training flags, ``caches`` checks CLIP and the latent caches against ``--task``,
``host_memory`` checks the weights against the RAM the probe reports.
"""
