"""Built-in optimizer plugins on optax (installed as ``suite.plugins``)."""
