"""Built-in studies: one TOML config and one check per difficulty of training (installed as ``suite.studies``)."""
