"""Built-in landscape plugins, one module per family (installed as ``suite.landscapes``)."""
